"""The Dataverse Web API v9.x subset served by the sandbox: `Api.handle` turns one HTTP request
into one response (`$batch`, in sandbox/batch.py, calls it for every part).

This module routes resource paths; the work is done by the mixins it combines:
sandbox/queries.py (reads), sandbox/writes.py and sandbox/values.py (writes),
sandbox/relations.py (`$ref`), sandbox/bulk.py (CreateMultiple...), sandbox/functions.py
(WhoAmI, ImportSolution, `$metadata`), sandbox/optionsets.py (Choice columns: their
definitions, InsertOptionValue, UpdateOptionValue)."""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox import availability, batch, odata
from sandbox.availability import AvailabilityMixin
from sandbox.bulk import BulkMixin
from sandbox.functions import FunctionMixin
from sandbox.odata import ODataError
from sandbox.optionsets import OptionSetMixin
from sandbox.orders import MESSAGES as ORDER_MESSAGES
from sandbox.orders import OrderMixin
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_METHOD,
    CODE_NOT_FOUND_SEGMENT,
    ApiError,
    Request,
    Response,
    error_response,
    json_response,
)
from sandbox.queries import QueryMixin
from sandbox.relations import RelationMixin
from sandbox.tables import Table
from sandbox.values import ValuesMixin
from sandbox.writes import WriteMixin


class Api(
    QueryMixin,
    WriteMixin,
    ValuesMixin,
    RelationMixin,
    BulkMixin,
    FunctionMixin,
    OptionSetMixin,
    OrderMixin,
    AvailabilityMixin,
):
    """The sandbox Web API: request routing on top of the mixins that do the work."""

    # ------------------------------------------------------------------ entry point

    def handle(self, req: Request) -> Response:
        try:
            if req.method in ("GET", "HEAD") or req.path.strip("/") == "$batch":
                # $batch runs its own transactions: one per request or change set
                return self.dispatch(req)
            with self.store.transaction():
                return self.dispatch(req)
        except ApiError as exc:
            return self.error_with_details(req, exc)
        except ODataError as exc:
            return self.error_with_details(req, ApiError(400, exc.code, exc.message))

    def error_with_details(self, req: Request, exc: ApiError) -> Response:
        response = error_response(exc)
        prefer = req.prefer
        if prefer.annotations and prefer.wants("Microsoft.PowerApps.CDS.HelpLink"):
            payload = json.loads(response.body)
            hex_code = exc.code[2:] if exc.code.startswith("0x") else exc.code
            payload["error"].update(
                {
                    "@Microsoft.PowerApps.CDS.ErrorDetails.OperationStatus": "0",
                    "@Microsoft.PowerApps.CDS.ErrorDetails.SubErrorCode": "0",
                    "@Microsoft.PowerApps.CDS.HelpLink": "http://go.microsoft.com/fwlink/?LinkID=398563"
                    f"&error=Microsoft.Crm.CrmException%3a{hex_code}&client=platform",
                    "@Microsoft.PowerApps.CDS.TraceText": "",
                    "@Microsoft.PowerApps.CDS.InnerError.Message": exc.message,
                }
            )
            response.body = json.dumps(payload, ensure_ascii=False).encode()
        return response

    def dispatch(self, req: Request) -> Response:
        path = req.path
        if path in ("", "/"):
            return self.service_document(req)
        segments = odata.split_segments(path)
        first = segments[0]
        if first.startswith("$") and first[1:].isdigit() and first in req.content_ids:
            # a Content-ID reference used as the start of a URL inside a change set
            resolved = req.content_ids[first]
            rel = resolved[len(req.root) :] if resolved.startswith(req.root) else resolved
            segments = odata.split_segments(rel) + segments[1:]
            first = segments[0]
        elif re.match(r"^\$\d+$", first):
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"Content-ID Reference: '{first}' does not exist in the batch context.",
            )
        if first == "$metadata":
            return self.metadata(req)
        if first == "$batch" and len(segments) == 1:
            if req.method != "POST":
                raise ApiError(405, CODE_METHOD, "The $batch endpoint accepts POST only.")
            return batch.execute(self, req)
        if first in ("WhoAmI", "WhoAmI()") and len(segments) == 1:
            return self.whoami(req)
        if (
            first in ("ImportSolution", "Microsoft.Dynamics.CRM.ImportSolution")
            and len(segments) == 1
        ):
            if req.method != "POST":
                raise ApiError(405, CODE_METHOD, "ImportSolution is an action: use POST.")
            return self.import_solution(req)
        action = first.removeprefix("Microsoft.Dynamics.CRM.")
        if action in ("InsertOptionValue", "UpdateOptionValue") and len(segments) == 1:
            if req.method != "POST":
                raise ApiError(405, CODE_METHOD, f"{action} is an action: use POST.")
            if action == "InsertOptionValue":
                return self.insert_option_value(req)
            return self.update_option_value(req)
        if action in ORDER_MESSAGES and len(segments) == 1:
            return self.close_sales_order(req, action)
        name, key = odata.split_name_and_key(first)
        if name == "EntityDefinitions":
            return self.entity_definitions(req, segments)
        table = self.table_by_set(name)
        if table is None:
            raise ApiError(
                404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{name}'."
            )
        rest = segments[1:]
        if key is None:
            return self.collection_resource(req, table, rest)
        row = self.find_row(table, key, must_exist=False)
        return self.entity_resource(req, table, key, row, rest)

    # ------------------------------------------------------------------ collections

    def collection_resource(self, req: Request, table: Table, rest: list[str]) -> Response:
        if not rest:
            if req.method == "GET":
                return self.query(req, table, self.store.scan, base_path=table.entity_set)
            if req.method == "POST":
                return self.create(req, table)
            raise ApiError(
                405,
                CODE_METHOD,
                f"The requested operation isn't supported on the '{table.entity_set}' collection.",
            )
        action = rest[0]
        if action == "$count" and len(rest) == 1 and req.method == "GET":
            return self.count(req, table)
        if action.startswith("Microsoft.Dynamics.CRM.") and len(rest) == 1:
            message = action.split(".")[-1]
            if message in ("CreateMultiple", "UpdateMultiple", "UpsertMultiple"):
                if req.method != "POST":
                    raise ApiError(405, CODE_METHOD, f"{message} is an action: use POST.")
                return self.bulk(req, table, message)
            if message == "FulfillSalesOrder" and table.logical == "salesorder":
                # the 2016 reference binds it to the salesorder collection; v9 also has it unbound
                return self.close_sales_order(req, message)
        raise ApiError(
            404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{action}'."
        )

    # ------------------------------------------------------------------ single entity

    def publish_product(self, req: Request, table: Table, row: dict[str, Any]) -> Response:
        """PublishProductHierarchy, bound to a product: a draft product becomes active (the
        sandbox has no product families, so the hierarchy is the product itself)."""
        if req.method != "POST":
            raise ApiError(405, CODE_METHOD, "PublishProductHierarchy is an action: use POST.")
        if table.logical != "product":
            raise ApiError(
                404,
                CODE_NOT_FOUND_SEGMENT,
                "Resource not found for the segment "
                "'Microsoft.Dynamics.CRM.PublishProductHierarchy'.",
            )
        if row.get("statecode") != 0:
            self.update_row(req, table, row, {"statecode": 0, "statuscode": 1})
        return Response(204, [("OData-Version", "4.0")])

    def entity_resource(
        self,
        req: Request,
        table: Table,
        key: str,
        row: dict[str, Any] | None,
        rest: list[str],
    ) -> Response:
        if not rest:
            if req.method == "GET":
                if row is None:
                    self.find_row(table, key)  # raises the right 404
                assert row is not None
                return self.retrieve(req, table, row)
            if req.method == "PATCH":
                return self.upsert(req, table, key, row)
            if req.method == "DELETE":
                if row is None:
                    self.find_row(table, key)
                assert row is not None
                self.check_if_match(req, row)
                self.delete_row(table, row)
                return Response(204, [("OData-Version", "4.0")])
            raise ApiError(405, CODE_METHOD, f"The method {req.method} is not allowed here.")
        if row is None:
            self.find_row(table, key)
        assert row is not None
        prop = rest[0]
        if prop == "Microsoft.Dynamics.CRM.PublishProductHierarchy" and len(rest) == 1:
            return self.publish_product(req, table, row)
        is_call, parameters = availability.is_call(prop)
        if is_call and len(rest) == 1 and table.logical == "product":
            return self.availability_function(req, row, parameters)
        is_ref = rest[-1] == "$ref"
        nav_name, nav_key = odata.split_name_and_key(prop)
        if is_ref:
            return self.reference(req, table, row, nav_name, nav_key, rest)
        if nav_name in table.collection_map and req.method == "GET":
            nav = table.collection_map[nav_name]
            target = self.table(nav.table)
            rows_source = lambda _set: self.children(table, row[table.pk], nav)  # noqa: E731
            return self.query(
                req,
                target,
                rows_source,
                base_path=f"{table.entity_set}({row[table.pk]})/{nav_name}",
                context_path=target.entity_set,
            )
        if nav_name in table.nav_map and req.method == "GET":
            lk, target_name = table.nav_map[nav_name]
            ref = row.get(f"_{lk.name}_value")
            if ref is None:
                return Response(204, [("OData-Version", "4.0")])
            target = self.table(target_name)
            related = self.find_row(target, ref)
            assert related is not None
            return self.retrieve(req, target, related)
        if (
            prop in table.column_map
            or prop == table.pk
            or (prop.startswith("_") and prop.endswith("_value"))
        ):
            self.check_property(table, prop)
            context = f"{req.root}$metadata#{table.entity_set}({row[table.pk]})/{prop}"
            if req.method == "GET":
                return json_response(200, {"@odata.context": context, "value": row.get(prop)})
            if req.method == "PUT":
                body = req.json_body()
                self.update_row(req, table, row, {prop: body.get("value")})
                return Response(204, [("OData-Version", "4.0")])
            if req.method == "DELETE":
                self.update_row(req, table, row, {prop: None})
                return Response(204, [("OData-Version", "4.0")])
        raise ApiError(404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{prop}'.")
