"""Choice (option set) columns: their options, the column definitions the Web API exposes for
them (`EntityDefinitions(...)/Attributes(...)`), and the InsertOptionValue / UpdateOptionValue
actions.

A Choice column's options are its defaults in sandbox/tables.py plus the ones added (or
relabelled) at run time, which live in the store (`meta` key `optionvalues`), so they survive a
restart and `POST /_sandbox/reset` removes them. Shapes follow Microsoft's published exchanges:
*Reference Dataverse schema definitions by name or MetadataId*
(learn.microsoft.com/power-apps/developer/data-platform/webapi/retrieve-metadata-name-metadataid)
and *Create and update choices (option sets) using the Web API*
(learn.microsoft.com/power-apps/developer/data-platform/webapi/create-update-optionsets).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sandbox import odata, seed
from sandbox.base import ApiBase
from sandbox.protocol import (
    CODE_INVALID_ARGUMENT,
    CODE_METHOD,
    CODE_NOT_FOUND_SEGMENT,
    CODE_OBJECT_NOT_FOUND,
    ApiError,
    Request,
    Response,
    json_response,
)
from sandbox.tables import (
    BIGINT,
    BOOL,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    MEMO,
    MONEY,
    STRING,
    Column,
    Table,
)

META_KEY = "optionvalues"
LANGUAGE = 1033  # the organization's base language (English)
# Options added without a Value get the next one in the default publisher's range: its option
# value prefix is 10000, so values start at 100,000,000 (Dataverse does the same for the
# default solution's publisher; the sandbox knows no other publisher).
CUSTOM_OPTION_START = 100_000_000
CAST_PREFIX = "Microsoft.Dynamics.CRM."
ATTRIBUTE_TYPES = {
    STRING: "String", MEMO: "Memo", INT: "Integer", BIGINT: "BigInt", DECIMAL: "Decimal",
    MONEY: "Money", BOOL: "Boolean", DATETIME: "DateTime", DATE: "DateTime",
    GUID: "Uniqueidentifier",
}  # fmt: skip
# AttributeType -> the metadata type a column is exposed as (and may be cast to)
METADATA_TYPES = {
    "String": "StringAttributeMetadata", "Memo": "MemoAttributeMetadata",
    "Integer": "IntegerAttributeMetadata", "BigInt": "BigIntAttributeMetadata",
    "Decimal": "DecimalAttributeMetadata", "Money": "MoneyAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata", "DateTime": "DateTimeAttributeMetadata",
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata", "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "Lookup": "LookupAttributeMetadata",
}  # fmt: skip
ENTITY_PROPERTIES = (
    "MetadataId", "LogicalName", "EntitySetName", "PrimaryIdAttribute", "PrimaryNameAttribute",
    "IsCustomEntity",
)  # fmt: skip


def _label(text: str, *, managed: bool, key: str) -> dict[str, Any]:
    localized = {
        "Label": text,
        "LanguageCode": LANGUAGE,
        "IsManaged": managed,
        "MetadataId": seed.stable_id("label", key),
        "HasChanged": None,
    }
    return {"LocalizedLabels": [localized], "UserLocalizedLabel": dict(localized)}


def _no_property(name: str, type_name: str) -> ApiError:
    return ApiError(
        400,
        CODE_NOT_FOUND_SEGMENT,
        f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{type_name}'.",
    )


class OptionSetMixin(ApiBase):
    """Options of Choice columns, their definitions, InsertOptionValue and UpdateOptionValue."""

    # ------------------------------------------------------------------ options

    def _added_options(self) -> dict[str, dict[str, str]]:
        raw = self.store.get_meta(META_KEY)
        return json.loads(raw) if raw else {}

    def column_options(self, table: Table, name: str) -> dict[int, str]:
        col = table.column_map[name]
        added = self._added_options().get(f"{table.logical}.{name}", {})
        return {**col.options, **{int(v): label for v, label in added.items()}}

    # ------------------------------------------------------------------ definitions (GET)

    def entity_definitions(self, req: Request, segments: list[str]) -> Response:
        if req.method != "GET":
            raise ApiError(405, CODE_METHOD, "The sandbox's table definitions are read-only.")
        _, key = odata.split_name_and_key(segments[0])
        if key is None:
            if len(segments) > 1:
                raise ApiError(
                    404,
                    CODE_NOT_FOUND_SEGMENT,
                    f"Resource not found for the segment '{segments[1]}'.",
                )
            return self._entity_collection(req)
        table = self._table_by_key(key)
        if len(segments) == 1:
            body = self._select(self._entity(table), req.query.get("$select"), "EntityMetadata")
            context = f"{req.root}$metadata#EntityDefinitions/$entity"
            return json_response(200, {"@odata.context": context, **body})
        name, attr_key = odata.split_name_and_key(segments[1])
        if name != "Attributes" or attr_key is None or len(segments) > 3:
            raise ApiError(
                404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{segments[1]}'."
            )
        parsed = odata.parse_key(attr_key)
        logical = parsed.get("LogicalName") if isinstance(parsed, dict) else None
        attribute = self._attribute(table, str(logical or ""))
        cast = segments[2] if len(segments) == 3 else None
        type_name = "AttributeMetadata"
        if cast is not None:
            type_name = cast[len(CAST_PREFIX) :] if cast.startswith(CAST_PREFIX) else cast
            if type_name != METADATA_TYPES.get(attribute["AttributeType"]):
                raise ApiError(
                    404, CODE_NOT_FOUND_SEGMENT, f"Resource not found for the segment '{cast}'."
                )
        body = self._select(attribute, req.query.get("$select"), type_name)
        selected = list(odata.parse_select(req.query.get("$select")) or [])
        for exp in odata.parse_expand(req.query.get("$expand")):
            if exp.nav not in ("OptionSet", "GlobalOptionSet") or type_name not in (
                "PicklistAttributeMetadata",
                "StateAttributeMetadata",
                "StatusAttributeMetadata",
            ):
                raise _no_property(exp.nav, type_name)
            option_set = self._option_set(table, attribute["LogicalName"])
            body[exp.nav] = self._select(
                option_set, exp.options.get("$select"), "OptionSetMetadata"
            )
            inner = f"({','.join(exp.select)})" if exp.select else ""
            selected.append(f"{exp.nav}{inner}")
        cast_part = f"/{CAST_PREFIX}{type_name}" if cast is not None else ""
        select_part = f"({','.join(selected)})" if selected else ""
        context = (
            f"{req.root}$metadata#EntityDefinitions('{table.logical}')/Attributes"
            f"{cast_part}{select_part}/$entity"
        )
        if cast is None:
            body = {"@odata.type": f"#{CAST_PREFIX}{METADATA_TYPES[attribute['AttributeType']]}",
                    **body}  # fmt: skip
        return json_response(200, {"@odata.context": context, **body})

    def _entity_collection(self, req: Request) -> Response:
        """`EntityDefinitions?$filter=LogicalName eq 'x'` (or EntitySetName): the two filters
        clients use to find a table; other filters are refused."""
        text = (req.query.get("$filter") or "").strip()
        tables = sorted(self.tables.values(), key=lambda t: t.logical)
        if text:
            m = re.fullmatch(r"(LogicalName|EntitySetName)\s+eq\s+'([^']*)'", text)
            if m is None:
                raise ApiError(
                    400,
                    CODE_INVALID_ARGUMENT,
                    "The sandbox filters table definitions by LogicalName or EntitySetName only.",
                )
            prop, value = m.groups()
            tables = [
                t for t in tables if (t.logical if prop == "LogicalName" else t.entity_set) == value
            ]
        select = req.query.get("$select")
        rows = [self._select(self._entity(t), select, "EntityMetadata") for t in tables]
        return json_response(
            200, {"@odata.context": f"{req.root}$metadata#EntityDefinitions", "value": rows}
        )

    def _table_by_key(self, key: str) -> Table:
        parsed = odata.parse_key(key)
        logical = parsed.get("LogicalName") if isinstance(parsed, dict) else None
        table = self.tables.get(str(logical)) if logical else None
        if table is None:
            for candidate in self.tables.values():
                if parsed == seed.stable_id("entity", candidate.logical):
                    table = candidate
        if table is None:
            raise self._entity_not_found(str(logical or key))
        return table

    @staticmethod
    def _entity_not_found(name: str) -> ApiError:
        return ApiError(
            404,
            CODE_OBJECT_NOT_FOUND,
            f"Could not find entity with logical name '{name}'.",
        )

    def _entity(self, table: Table) -> dict[str, Any]:
        return {
            "MetadataId": seed.stable_id("entity", table.logical),
            "LogicalName": table.logical,
            "EntitySetName": table.entity_set,
            "PrimaryIdAttribute": table.pk,
            "PrimaryNameAttribute": table.primary_name,
            "IsCustomEntity": table.logical in self.solution_tables,
        }

    def _attribute(self, table: Table, name: str) -> dict[str, Any]:
        if name == table.pk:
            kind = "Uniqueidentifier"
        elif name in table.column_map:
            col: Column = table.column_map[name]
            if col.type == CHOICE:
                kind = {"statecode": "State", "statuscode": "Status"}.get(name, "Picklist")
            else:
                kind = ATTRIBUTE_TYPES[col.type]
        elif name in table.lookup_map:
            kind = "Lookup"
        else:
            raise ApiError(
                404,
                CODE_OBJECT_NOT_FOUND,
                f"Could not find attribute with logical name '{name}' on entity '{table.logical}'.",
            )
        return {
            "MetadataId": seed.stable_id("attribute", f"{table.logical}.{name}"),
            "LogicalName": name,
            "EntityLogicalName": table.logical,
            "AttributeType": kind,
            "IsCustomAttribute": table.logical in self.solution_tables,
        }

    def _option_set(self, table: Table, name: str) -> dict[str, Any]:
        defaults = table.column_map[name].options
        options: list[dict[str, Any]] = []
        for value, text in sorted(self.column_options(table, name).items()):
            managed = value in defaults and defaults[value] == text
            options.append(
                {
                    "Value": value,
                    "Color": None,
                    "IsManaged": managed,
                    "ExternalValue": None,
                    "ParentValues": [],
                    "Tag": None,
                    "IsHidden": False,
                    "MetadataId": None,
                    "HasChanged": None,
                    "Label": _label(
                        text, managed=managed, key=f"{table.logical}.{name}.{value}.{text}"
                    ),
                    "Description": {"LocalizedLabels": [], "UserLocalizedLabel": None},
                }
            )
        kind = {"statecode": "State", "statuscode": "Status"}.get(name, "Picklist")
        return {
            "MetadataId": seed.stable_id("optionset", f"{table.logical}.{name}"),
            "Name": f"{table.logical}_{name}",
            "IsGlobal": False,
            "IsCustomOptionSet": table.logical in self.solution_tables,
            "OptionSetType": kind,
            "Options": options,
        }

    @staticmethod
    def _select(item: dict[str, Any], select: str | None, type_name: str) -> dict[str, Any]:
        """`$select` on a definition: MetadataId (the key) always comes along."""
        names = odata.parse_select(select)
        if names is None:
            return dict(item)
        for name in names:
            if name not in item:
                raise _no_property(name, type_name)
        return {k: v for k, v in item.items() if k == "MetadataId" or k in names}

    # ------------------------------------------------------------------ actions

    def _option_target(self, req: Request, body: Any, action: str) -> tuple[Table, str]:
        if not isinstance(body, dict):
            raise ApiError(400, CODE_INVALID_ARGUMENT, "The request body must be a JSON object.")
        entity = body.get("EntityLogicalName")
        attribute = body.get("AttributeLogicalName")
        if not entity or not attribute:
            if body.get("OptionSetName"):
                raise ApiError(
                    404,
                    CODE_OBJECT_NOT_FOUND,
                    f"Could not find optionset with name '{body['OptionSetName']}' (the sandbox "
                    "has no global option sets).",
                )
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"{action} needs EntityLogicalName and AttributeLogicalName (or OptionSetName).",
            )
        # Dataverse: prvWriteOptionSet, which the System Administrator and System Customizer
        # roles hold; the sandbox: System Administrator or a role imported with the privilege
        # (our Integration Administrator, for the option mappings).
        self.require_privilege(req, "prvWriteOptionSet")
        table = self.tables.get(str(entity))
        if table is None:
            raise self._entity_not_found(str(entity))
        definition = self._attribute(table, str(attribute))
        if definition["AttributeType"] != "Picklist":
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"{action} applies to Choice (Picklist) columns; '{attribute}' of "
                f"'{entity}' is of type {definition['AttributeType']}.",
            )
        return table, str(attribute)

    @staticmethod
    def _label_text(body: dict[str, Any], action: str) -> str:
        label = body.get("Label")
        texts: list[tuple[int, str]] = []
        if isinstance(label, dict):
            for item in label.get("LocalizedLabels") or []:
                if isinstance(item, dict) and isinstance(item.get("Label"), str):
                    texts.append((int(item.get("LanguageCode") or LANGUAGE), item["Label"]))
            user = label.get("UserLocalizedLabel")
            if not texts and isinstance(user, dict) and isinstance(user.get("Label"), str):
                texts.append((int(user.get("LanguageCode") or LANGUAGE), user["Label"]))
        text = next((t for code, t in texts if code == LANGUAGE), texts[0][1] if texts else "")
        if not text.strip():
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"{action} needs a Label with a LocalizedLabel for language {LANGUAGE}.",
            )
        return text

    def _save_options(self, table: Table, name: str, values: dict[int, str]) -> None:
        added = self._added_options()
        added[f"{table.logical}.{name}"] = {str(v): text for v, text in sorted(values.items())}
        self.store.set_meta(META_KEY, json.dumps(added))

    def insert_option_value(self, req: Request) -> Response:
        body = req.json_body()
        table, name = self._option_target(req, body, "InsertOptionValue")
        text = self._label_text(body, "InsertOptionValue")
        options = self.column_options(table, name)
        value = body.get("Value")
        if value is None:
            value = max([CUSTOM_OPTION_START - 1, *options]) + 1
        elif isinstance(value, bool) or not isinstance(value, int):
            raise ApiError(400, CODE_INVALID_ARGUMENT, f"Value '{value}' is not an Edm.Int32.")
        elif value in options:
            raise ApiError(
                400,
                CODE_INVALID_ARGUMENT,
                f"An option with the value {value} already exists in the option set of "
                f"'{name}' on '{table.logical}'.",
            )
        added = {
            int(v): t for v, t in self._added_options().get(f"{table.logical}.{name}", {}).items()
        }
        added[value] = text
        self._save_options(table, name, added)
        return json_response(
            200,
            {
                "@odata.context": f"{req.root}$metadata#{CAST_PREFIX}InsertOptionValueResponse",
                "NewOptionValue": value,
            },
        )

    def update_option_value(self, req: Request) -> Response:
        body = req.json_body()
        table, name = self._option_target(req, body, "UpdateOptionValue")
        text = self._label_text(body, "UpdateOptionValue")
        value = body.get("Value")
        if value not in self.column_options(table, name):
            raise ApiError(
                404,
                CODE_OBJECT_NOT_FOUND,
                f"The option set of '{name}' on '{table.logical}' has no option with the value "
                f"{value}.",
            )
        added = {
            int(v): t for v, t in self._added_options().get(f"{table.logical}.{name}", {}).items()
        }
        added[int(value)] = text
        self._save_options(table, name, added)
        return Response(204, [("OData-Version", "4.0")])
