"""Card forms for the ERP tables, built from the table registry.

Validation comes from the model (`full_clean` through ModelForm); the form adds what a user
expects: codes typed in lower case are accepted, a duplicate number gets a plain message, and
references to big tables are typed as a number instead of picked from a huge drop-down.
"""

from functools import cache
from typing import Any

from django import forms
from django.db import models
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from erp.query_input import query_value_problem
from erp.tables import BIG_TABLES, Table, key_field

UNIQUE_MESSAGE = _("This %(field_label)s is already used by another record. Choose another one.")


class RecordByKeyField(forms.ModelChoiceField):
    """A reference typed as the other record's no. or code."""

    widget = forms.TextInput

    def __init__(self, queryset: models.QuerySet, **kwargs: Any) -> None:
        key = key_field(queryset.model)
        super().__init__(queryset, to_field_name=key, **kwargs)
        # format_lazy: the form class is built once and must speak each request's language.
        self.error_messages["invalid_choice"] = format_lazy(
            _("There is no {table} with this number. Check the number and try again."),
            table=queryset.model._meta.verbose_name,
        )

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().upper()
            # The value becomes a database lookup: PostgreSQL refuses NUL in it.
            problem = query_value_problem(value=value)
            if problem is not None:
                raise forms.ValidationError(problem, code="invalid")
        return super().to_python(value)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, models.Model):
            return getattr(value, self.to_field_name or "pk")
        return super().prepare_value(value)


class RecordForm(forms.ModelForm):
    table: Table

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, fld in self.fields.items():
            if isinstance(fld, RecordByKeyField) and self.instance.pk:
                related = getattr(self.instance, name, None)
                if related is not None:
                    self.initial[name] = getattr(related, fld.to_field_name or "pk")
            if name in self.table.upper_fields:
                fld.widget.attrs.setdefault("autocapitalize", "characters")

    def clean(self) -> dict[str, Any]:
        super().clean()  # ModelForm's clean() returns self.cleaned_data
        cleaned = self.cleaned_data
        for name in self.table.upper_fields:
            if isinstance(cleaned.get(name), str):
                cleaned[name] = cleaned[name].strip().upper()
        return cleaned


def _formfield(db_field: models.Field, **kwargs: Any) -> forms.Field | None:
    if isinstance(db_field, models.ForeignKey) and db_field.related_model in BIG_TABLES:
        queryset = db_field.related_model._default_manager.complex_filter(
            db_field.remote_field.limit_choices_to or {}
        )
        return RecordByKeyField(
            queryset,
            required=not db_field.blank,
            label=capfirst(db_field.verbose_name),
            help_text=format_lazy(
                _("Type the number of the {table}."),
                table=db_field.related_model._meta.verbose_name,
            ),
        )
    if isinstance(db_field, models.URLField):
        kwargs["assume_scheme"] = "https"
    if isinstance(db_field, models.DateField):
        kwargs["widget"] = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    return db_field.formfield(**kwargs)


@cache
def record_form_class(table: Table) -> type[RecordForm]:
    error_messages = {
        name: {"unique": UNIQUE_MESSAGE}
        for name in table.form_fields
        if getattr(table.field(name), "unique", False)
    }
    meta = type(
        "Meta",
        (),
        {
            "model": table.model,
            "fields": table.form_fields,
            "error_messages": error_messages,
            "formfield_callback": staticmethod(_formfield),
        },
    )
    return type(
        f"{table.model.__name__}Form",
        (RecordForm,),
        {"Meta": meta, "table": table},
    )
