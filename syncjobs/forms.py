"""The mapping edit page's forms: the mapping's settings and its field mappings (a formset).

The forms check types and choices only; whether the result makes sense as a whole is
`validation.mapping_validate`'s call, made by `services.mapping_update` after `is_valid()`.
"""

import json
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import IntegrationFieldMapping, IntegrationTableMapping

MAPPING_FIELDS = (
    "direction",
    "enabled",
    "interval_minutes",
    "table_filter",
    "integration_table_filter",
    "sync_only_coupled",
    "dependency_filter",
    "update_conflict_resolution",
    "deletion_conflict_resolution",
    "synch_after_match_coupling",
    "create_new_if_no_match",
)

FIELD_MAPPING_FIELDS = (
    "position",
    "status",
    "erp_field",
    "direction",
    "crm_field",
    "constant_value",
    "validate_field",
    "crm_lookup_entity",
    "option_mapping",
    "transformation",
    "value_map",
    "clear_value_on_failed_sync",
    "not_null",
    "use_for_match_based_coupling",
    "case_sensitive_match",
    "match_priority",
)


class CompactJSONField(forms.JSONField):
    """JSON on one line, so that a small object fits a table cell."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, cls=self.encoder)


class MappingForm(forms.ModelForm):
    table_filter = CompactJSONField(
        label=_("ERP table filter"),
        required=False,
        help_text=_('Django lookups as JSON, for example {"blocked": ""}.'),
    )

    class Meta:
        model = IntegrationTableMapping
        fields = MAPPING_FIELDS
        widgets = {"integration_table_filter": forms.TextInput()}

    def clean_table_filter(self) -> Any:
        value = self.cleaned_data.get("table_filter")
        return {} if value in (None, "") else value


class FieldMappingForm(forms.ModelForm):
    value_map = CompactJSONField(label=_("value map"), required=False)

    class Meta:
        model = IntegrationFieldMapping
        fields = FIELD_MAPPING_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("position", "match_priority"):
            # Blank is 0; a new row with position 0 goes after the others.
            self.fields[name].required = False
            self.fields[name].widget.attrs["class"] = "input-narrow"
        for name, fld in self.fields.items():
            # In a table the column header is the visible label.
            fld.widget.attrs.setdefault("aria-label", str(fld.label))
            fld.widget.attrs.setdefault("title", str(fld.label))
            if name in ("erp_field", "crm_field", "constant_value"):
                fld.widget.attrs["size"] = 16

    def clean_position(self) -> int:
        return self.cleaned_data.get("position") or 0

    def clean_match_priority(self) -> int:
        return self.cleaned_data.get("match_priority") or 0

    def clean_value_map(self) -> Any:
        value = self.cleaned_data.get("value_map")
        return {} if value in (None, "") else value


FieldMappingFormSet = forms.inlineformset_factory(
    IntegrationTableMapping,
    IntegrationFieldMapping,
    form=FieldMappingForm,
    fields=FIELD_MAPPING_FIELDS,
    extra=1,
    can_delete=True,
)


def forms_disable(*all_forms: forms.BaseForm) -> None:
    """Read-only display for those who may look but not change (support)."""
    for form in all_forms:
        for fld in form.fields.values():
            fld.disabled = True
