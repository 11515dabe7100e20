"""Column definitions (metadata): the options of Choice columns, and adding an option.

Reads go to `EntityDefinitions(LogicalName='<table>')/Attributes(LogicalName='<column>')`, cast
to `Microsoft.Dynamics.CRM.PicklistAttributeMetadata` with `OptionSet` expanded, as Microsoft
documents (*Reference Dataverse schema definitions by name or MetadataId*). Writes use the
unbound `InsertOptionValue` action, which answers `InsertOptionValueResponse`
(`NewOptionValue`); Dataverse requires the `prvWriteOptionSet` privilege for it (System
Administrator, System Customizer, or the integration solution's Integration Administrator role).
"""

from __future__ import annotations

from typing import Any

from . import errors
from .odata import format_key
from .query import Queries

# The language of the labels written and preferred when read: English (the base language of
# most organizations; UserLocalizedLabel, the caller's own language, is read first).
DEFAULT_LANGUAGE = 1033
PICKLIST_CAST = "Microsoft.Dynamics.CRM.PicklistAttributeMetadata"


def _attribute_path(entity_logical_name: str, attribute_logical_name: str) -> str:
    return (
        f"EntityDefinitions({format_key({'LogicalName': entity_logical_name})})"
        f"/Attributes({format_key({'LogicalName': attribute_logical_name})})"
    )


def _label_text(label: Any, language: int) -> str | None:
    """The text of a `Label` complex type: UserLocalizedLabel, else the LocalizedLabel of
    `language`, else the first one."""
    if not isinstance(label, dict):
        return None
    user = label.get("UserLocalizedLabel")
    if isinstance(user, dict) and isinstance(user.get("Label"), str):
        return str(user["Label"])
    localized = [
        item
        for item in label.get("LocalizedLabels") or []
        if isinstance(item, dict) and isinstance(item.get("Label"), str)
    ]
    for item in localized:
        if item.get("LanguageCode") == language:
            return str(item["Label"])
    return str(localized[0]["Label"]) if localized else None


def label_body(text: str, language: int = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """A `Label` complex type with one LocalizedLabel."""
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.Label",
        "LocalizedLabels": [
            {
                "@odata.type": "Microsoft.Dynamics.CRM.LocalizedLabel",
                "Label": text,
                "LanguageCode": language,
            }
        ],
    }


class Metadata(Queries):
    """`option_set()` and `insert_option_value()`: the options of a Choice column."""

    def option_set(
        self,
        entity_logical_name: str,
        attribute_logical_name: str,
        *,
        language: int = DEFAULT_LANGUAGE,
    ) -> dict[int, str]:
        """value -> label of a Choice (Picklist) column's options, in the CRM's order.

        NotFound for an unknown table or column, or one that is not a Choice column."""
        response = self.request(
            "GET",
            f"{_attribute_path(entity_logical_name, attribute_logical_name)}/{PICKLIST_CAST}",
            query={"$select": "LogicalName", "$expand": "OptionSet($select=Options)"},
        )
        body = self._json(response) or {}
        option_set = body.get("OptionSet") if isinstance(body, dict) else None
        options = option_set.get("Options") if isinstance(option_set, dict) else None
        if not isinstance(options, list):
            raise errors.DataverseError(
                f"The definition of {entity_logical_name}.{attribute_logical_name} came back "
                "without its options.",
                status=response.status_code,
            )
        result: dict[int, str] = {}
        for option in options:
            value = option.get("Value") if isinstance(option, dict) else None
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            result[value] = _label_text(option.get("Label"), language) or str(value)
        return result

    def insert_option_value(
        self,
        entity_logical_name: str,
        attribute_logical_name: str,
        label: str,
        value: int | None = None,
        *,
        language: int = DEFAULT_LANGUAGE,
        solution_unique_name: str | None = None,
    ) -> int:
        """Add an option to a Choice column's (local) option set; returns its value.

        Without `value` the CRM picks the next one in the publisher's range (100000000... for
        the default publisher). The call is not idempotent, so it is sent once: after a
        transient failure the options are read back, and an option with this label that the
        failed call may have added is returned instead of a second one being inserted.
        Forbidden when the user lacks prvWriteOptionSet.
        """
        body: dict[str, Any] = {
            "EntityLogicalName": entity_logical_name,
            "AttributeLogicalName": attribute_logical_name,
            "Label": label_body(label, language),
        }
        if value is not None:
            body["Value"] = value
        if solution_unique_name:
            body["SolutionUniqueName"] = solution_unique_name
        try:
            response = self.request("POST", "InsertOptionValue", json_body=body, max_attempts=1)
        except errors.TransientError as failure:
            try:
                current = self.option_set(entity_logical_name, attribute_logical_name)
            except errors.DataverseError:
                raise failure from None
            found = [v for v, text in current.items() if text == label and value in (None, v)]
            if found:
                return found[-1]
            raise
        answer = self._json(response) or {}
        new_value = answer.get("NewOptionValue") if isinstance(answer, dict) else None
        if isinstance(new_value, bool) or not isinstance(new_value, int):
            raise errors.DataverseError(
                "InsertOptionValue answered without NewOptionValue.", status=response.status_code
            )
        return new_value
