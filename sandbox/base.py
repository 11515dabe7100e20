"""The base of the sandbox's Web API object: table registry and row lookup."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import unquote, urlsplit

from sandbox import odata, seed
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_KEY_NOT_FOUND,
    CODE_OBJECT_NOT_FOUND,
    CODE_PRIVILEGE,
    LOOKUP_LOGICAL,
    ApiError,
    Request,
)
from sandbox.store import Store
from sandbox.tables import ManyToMany, OneToMany, Table


def _key_value(value: Any) -> str:
    return json.dumps(value.lower() if isinstance(value, str) else value)


class ApiBase(ABC):
    """What every part of the API needs: the table registry, the store, the settings, and
    finding rows by key or by reference.

    The API is one object assembled from mixins (queries, writes, relations, bulk messages,
    functions), each of which calls the others through `self`; `Api` in sandbox/api.py
    combines them. The methods one mixin calls on another are declared at the end of this
    class (abstract), so each mixin is type-checked against the signatures it relies on.
    """

    def __init__(self, store: Store, standard_tables: dict[str, Table], settings: Any) -> None:
        self.store = store
        self.standard_tables = standard_tables
        # tables created by ImportSolution (see sandbox/solution.py); set by the app on start
        self.solution_tables: dict[str, Table] = {}
        self.settings = settings  # sandbox.control.Settings

    # ------------------------------------------------------------------ registry helpers

    @property
    def tables(self) -> dict[str, Table]:
        if not self.solution_tables:
            return self.standard_tables
        return {**self.standard_tables, **self.solution_tables}

    def table_by_set(self, name: str) -> Table | None:
        for table in self.tables.values():
            if table.entity_set == name:
                return table
        return None

    def table(self, logical: str) -> Table:
        return self.tables[logical]

    # ------------------------------------------------------------------ row lookup

    def find_row(self, table: Table, key: str, *, must_exist: bool = True) -> dict[str, Any] | None:
        parsed = odata.parse_key(key)
        if isinstance(parsed, str):
            row = self.store.get(table.entity_set, parsed)
            if row is None and must_exist:
                raise self.not_found(table, parsed)
            return row
        if len(parsed) == 1 and table.pk in parsed:
            return self.find_row(table, str(parsed[table.pk]), must_exist=must_exist)
        cols = tuple(parsed)
        row = None
        for ak in table.alternate_keys:
            if set(ak) == set(cols):
                found = self.store.find_key(
                    table.entity_set,
                    "ak:" + ",".join(ak),
                    json.dumps([json.loads(_key_value(parsed[c])) for c in ak]),
                )
                row = self.store.get(table.entity_set, found) if found else None
                break
        else:
            # not a declared key: the sandbox scans (lenient; Dataverse needs a defined key)
            for candidate in self.store.scan(table.entity_set):
                if all(
                    odata._compare("eq", self.column_value(candidate, c), v)
                    for c, v in parsed.items()
                ):
                    row = candidate
                    break
        if row is None and must_exist:
            raise ApiError(
                404,
                CODE_KEY_NOT_FOUND,
                f"A record with the specified key values does not exist in {table.logical} entity",
            )
        return row

    def not_found(self, table: Table, row_id: str) -> ApiError:
        return ApiError(
            404, CODE_OBJECT_NOT_FOUND, f"{table.logical} With Id = {row_id} Does Not Exist"
        )

    def column_value(self, row: dict[str, Any], name: str) -> Any:
        return row.get(name)

    def resolve_reference(self, req: Request, value: str) -> tuple[Table, str]:
        """`/contacts(id)`, `contacts(id)`, an absolute URL, or `$n` -> (table, row id)."""
        text = value.strip()
        if text in req.content_ids:
            text = req.content_ids[text]
        elif re.match(r"^\$\d+$", text):
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"Content-ID Reference: '{text}' does not exist in the batch context.",
            )
        if "://" in text:
            path = urlsplit(text).path
            m = re.search(r"/api/data/v9\.[0-2]/(.*)$", path)
            text = unquote(m.group(1)) if m else path.rsplit("/", 1)[-1]
        text = text.lstrip("/")
        m = re.match(r"^api/data/v9\.[0-2]/(.*)$", text)
        if m:
            text = m.group(1)
        name, key = odata.split_name_and_key(text)
        table = self.table_by_set(name)
        if table is None or key is None:
            raise ApiError(
                400, CODE_INVALID_ARGUMENT, f"The reference '{value}' is not a valid entity URL."
            )
        row = self.find_row(table, key)
        assert row is not None
        return table, row[table.pk]

    def related_row(
        self, logical: str, row_id: str, cache: dict[tuple[str, str], Any]
    ) -> dict[str, Any] | None:
        key = (logical, row_id)
        if key not in cache:
            target = self.tables.get(logical)
            cache[key] = self.store.get(target.entity_set, row_id) if target else None
        return cache[key]

    def entity_url(self, req: Request, table: Table, row_id: str) -> str:
        return f"{req.root}{table.entity_set}({row_id})"

    @staticmethod
    def set_lookup(row: dict[str, Any], name: str, ref_id: str | None, target: str | None) -> None:
        row[f"_{name}_value"] = ref_id
        if ref_id is None:
            row.pop(f"_{name}_value@{LOOKUP_LOGICAL}", None)
        else:
            row[f"_{name}_value@{LOOKUP_LOGICAL}"] = target

    def unique_keys(self, table: Table, row: dict[str, Any]) -> dict[str, str]:
        # business-rule uniqueness first: its error (e.g. 0x80043b06) wins over the key's
        keys: dict[str, str] = {}
        for name, (cols, _, _) in table.unique.items():
            values = [row.get(c) for c in cols]
            if all(v is not None for v in values):
                keys["uq:" + name] = json.dumps(
                    [v.lower() if isinstance(v, str) else v for v in values]
                )
        for ak in table.alternate_keys:
            values = [row.get(c) for c in ak]
            if all(v is not None for v in values):
                keys["ak:" + ",".join(ak)] = json.dumps(
                    [v.lower() if isinstance(v, str) else v for v in values]
                )
        return keys

    def require_admin(self, req: Request, privilege: str = "prvAssignRole") -> None:
        """The caller must hold the System Administrator role (`privilege` names the Dataverse
        privilege in the 403's message). For the calls the sandbox keeps to administrators
        (ImportSolution, assigning roles), whatever the caller's other roles grant."""
        self._require(req, privilege, granted_by_roles=False)

    def require_privilege(self, req: Request, privilege: str) -> None:
        """The caller must hold System Administrator, which has every privilege, or a role that
        grants `privilege` (the `<RolePrivileges>` of an imported solution's roles, kept in the
        store; any depth but `None` counts); else 403 naming the privilege."""
        self._require(req, privilege, granted_by_roles=True)

    def is_administrator(self, req: Request) -> bool:
        roles = self.store.linked("systemuserroles", "a", req.user_id)
        return seed.SYSTEM_ADMINISTRATOR_ROLE_ID in set(roles)

    def _require(self, req: Request, privilege: str, *, granted_by_roles: bool) -> None:
        roles = set(self.store.linked("systemuserroles", "a", req.user_id))
        if seed.SYSTEM_ADMINISTRATOR_ROLE_ID in roles:
            return
        if granted_by_roles and roles & self.store.roles_granting(privilege):
            return
        raise ApiError(
            403,
            CODE_PRIVILEGE,
            f"Principal user (Id={req.user_id}, type=8) is missing {privilege} privilege. "
            "The user does not hold the necessary privileges.",
        )

    # ------------------------------------------------------------------ implemented by the mixins

    # sandbox/queries.py (QueryMixin)

    @abstractmethod
    def render(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        select: list[str] | None,
        expands: list[odata.Expand],
        cache: dict[tuple[str, str], Any],
        *,
        nested: bool = False,
    ) -> dict[str, Any]: ...

    @abstractmethod
    def context_select(self, select: list[str] | None, expands: list[odata.Expand]) -> str: ...

    @abstractmethod
    def check_expand(self, table: Table, exp: odata.Expand) -> None: ...

    # sandbox/writes.py (WriteMixin)

    @abstractmethod
    def create_row(self, req: Request, table: Table, body: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    def update_row(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        body: dict[str, Any],
        *,
        by_message: bool = False,
    ) -> dict[str, Any]: ...

    # sandbox/values.py (ValuesMixin)

    @abstractmethod
    def order_edit_rule(
        self, req: Request, table: Table, row: dict[str, Any], body: dict[str, Any]
    ) -> None: ...

    @abstractmethod
    def update_row_lookup(
        self,
        req: Request,
        table: Table,
        row: dict[str, Any],
        lookup: str,
        ref_id: str | None,
        target: str | None,
    ) -> None: ...

    # sandbox/optionsets.py (OptionSetMixin)

    @abstractmethod
    def column_options(self, table: Table, name: str) -> dict[int, str]: ...

    # sandbox/values.py (ValuesMixin)

    @abstractmethod
    def convert(self, table: Table, name: str, value: Any) -> Any: ...

    @abstractmethod
    def check_writable(
        self,
        table: Table,
        name: str,
        creating: bool,
        row: dict[str, Any],
        read_only: bool,
        create_only: bool,
        value: Any,
        *,
        lookup: bool = False,
    ) -> None: ...

    @abstractmethod
    def finish_row(
        self, table: Table, row: dict[str, Any], cache: dict[tuple[str, str], Any]
    ) -> None: ...

    @abstractmethod
    def check_state(self, table: Table, row: dict[str, Any], body: dict[str, Any]) -> None: ...

    @abstractmethod
    def business_rules(
        self, table: Table, row: dict[str, Any], old: dict[str, Any] | None
    ) -> None: ...

    # sandbox/relations.py (RelationMixin)

    @abstractmethod
    def associate(
        self, req: Request, table: Table, row: dict[str, Any], nav: OneToMany | ManyToMany, ref: str
    ) -> None: ...
