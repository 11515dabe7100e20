"""Associate / disassociate (`$ref`) in the sandbox Web API."""

from __future__ import annotations

from typing import Any

from sandbox import odata
from sandbox.base import ApiBase
from sandbox.protocol import (
    CODE_BAD_PROPERTY,
    CODE_INVALID_ARGUMENT,
    CODE_NOT_FOUND_SEGMENT,
    LOOKUP_LOGICAL,
    ApiError,
    Request,
    Response,
)
from sandbox.tables import ManyToMany, OneToMany, Table


class RelationMixin(ApiBase):
    """Associate and disassociate: `$ref` on single-valued and collection-valued navigation
    properties, and collection binds in a create or update body."""

    def associate(
        self, req: Request, table: Table, row: dict[str, Any], nav: OneToMany | ManyToMany, ref: str
    ) -> None:
        target_table, target_id = self.resolve_reference(req, ref)
        if target_table.logical != nav.table:
            raise ApiError(
                400,
                CODE_BAD_PROPERTY,
                f"The navigation property '{nav.name}' expects '{nav.table}' references.",
            )
        if isinstance(nav, ManyToMany):
            if nav.relationship == "systemuserroles":
                self.require_admin(req)
            a, b = (
                (row[table.pk], target_id) if nav.this_side == "a" else (target_id, row[table.pk])
            )
            self.store.link(nav.relationship, a, b)
            return
        child = self.store.get(target_table.entity_set, target_id)
        assert child is not None
        self.update_row_lookup(req, target_table, child, nav.lookup, row[table.pk], table.logical)

    def reference(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        nav_name: str,
        nav_key: str | None,
        rest: list[str],
    ) -> Response:
        done = Response(204, [("OData-Version", "4.0")])
        if nav_name in table.nav_map:
            lk, target = table.nav_map[nav_name]
            if req.method == "PUT":
                ref = req.json_body().get("@odata.id")
                if not isinstance(ref, str):
                    raise ApiError(400, CODE_BAD_PROPERTY, "The body needs an '@odata.id'.")
                ref_table, ref_id = self.resolve_reference(req, ref)
                if ref_table.logical != target:
                    raise ApiError(400, CODE_BAD_PROPERTY, f"'{nav_name}' expects a '{target}'.")
                self.update_row_lookup(req, table, row, lk.name, ref_id, target)
                return done
            if req.method == "DELETE":
                if row.get(f"_{lk.name}_value@{LOOKUP_LOGICAL}", target) == target:
                    self.update_row_lookup(req, table, row, lk.name, None, None)
                return done
        elif nav_name in table.collection_map:
            nav = table.collection_map[nav_name]
            if req.method == "POST":
                ref = req.json_body().get("@odata.id")
                if not isinstance(ref, str):
                    raise ApiError(400, CODE_BAD_PROPERTY, "The body needs an '@odata.id'.")
                self.associate(req, table, row, nav, ref)
                return done
            if req.method == "DELETE":
                if nav_key is not None:
                    parsed = odata.parse_key(nav_key)
                    if not isinstance(parsed, str):
                        raise ApiError(400, CODE_INVALID_ARGUMENT, "Use the id of the related row.")
                    ref_id = parsed
                    target_table = self.table(nav.table)
                else:
                    ref = req.query.get("$id")
                    if not ref:
                        raise ApiError(
                            400, CODE_INVALID_ARGUMENT, "The $id query option is missing."
                        )
                    target_table, ref_id = self.resolve_reference(req, ref)
                if isinstance(nav, ManyToMany):
                    if nav.relationship == "systemuserroles":
                        self.require_admin(req)
                    a, b = (
                        (row[table.pk], ref_id) if nav.this_side == "a" else (ref_id, row[table.pk])
                    )
                    self.store.unlink(nav.relationship, a, b)
                    return done
                child = self.store.get(target_table.entity_set, ref_id)
                if child is None:
                    raise self.not_found(target_table, ref_id)
                if child.get(f"_{nav.lookup}_value") == row[table.pk]:
                    self.update_row_lookup(req, target_table, child, nav.lookup, None, None)
                return done
        raise ApiError(
            404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{nav_name}'."
        )
