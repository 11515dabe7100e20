"""Card forms for the ERP tables, built from the table registry.

Validation comes from the model (`full_clean` through ModelForm); the form adds what a user
expects: codes typed in lower case are accepted, a duplicate number gets a plain message, and
references to big tables are typed as a number instead of picked from a huge drop-down.
"""

from decimal import Decimal
from functools import cache
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from erp.models import Item, LineType, Resource, SalesOrderLine, UnitOfMeasure
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


class SalesOrderLineForm(forms.Form):
    """A line of a sales order as typed on the order card: the number is an item's or a
    resource's, by the line's type; blank unit and price are found by the services."""

    type = forms.ChoiceField(label=_("Type"), choices=LineType.choices, initial=LineType.ITEM)
    no = forms.CharField(label=_("No."), max_length=20)
    description = forms.CharField(label=_("Description"), max_length=100, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=18, decimal_places=2, min_value=Decimal("0.01")
    )
    unit_of_measure = forms.ModelChoiceField(
        label=_("Unit of measure"),
        queryset=UnitOfMeasure.objects.all(),
        to_field_name="code",
        required=False,
        help_text=_("Blank: the base unit of the item or resource."),
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"),
        max_digits=18,
        decimal_places=2,
        min_value=Decimal("0"),
        required=False,
        help_text=_("Blank: the customer's price."),
    )
    line_discount_percent = forms.DecimalField(
        label=_("Line discount %"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("100"),
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # On the order card each line is a table row: its inputs belong to the row's <form>
        # through the form attribute, and are labelled for screen readers by the column.
        form_id = f"{self.prefix}-form"
        for fld in self.fields.values():
            fld.widget.attrs.update({"form": form_id, "aria-label": str(fld.label)})
        self.fields["no"].widget.attrs["autocapitalize"] = "characters"
        for name in ("quantity", "unit_price", "line_discount_percent"):
            self.fields[name].widget.attrs["class"] = "num"

    @property
    def form_id(self) -> str:
        return f"{self.prefix}-form"

    def clean_no(self) -> str:
        value = self.cleaned_data["no"].strip().upper()
        problem = query_value_problem(value=value)
        if problem is not None:
            raise forms.ValidationError(problem, code="invalid")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        no = cleaned.get("no")
        if no and cleaned.get("type"):
            if cleaned["type"] == LineType.ITEM:
                record: Item | Resource | None = Item.objects.filter(no=no).first()
                message = _("There is no item with this number. Check the number and try again.")
            else:
                record = Resource.objects.filter(no=no).first()
                message = _(
                    "There is no resource with this number. Check the number and try again."
                )
            if record is None:
                self.add_error("no", message)
            cleaned["item"] = record if isinstance(record, Item) else None
            cleaned["resource"] = record if isinstance(record, Resource) else None
        return cleaned

    def line_data(self, line: SalesOrderLine | None = None) -> dict[str, Any]:
        """What the services take, from a valid form. For a `line` whose item or resource was
        changed, the description, unit and price still showing the old one's are left out, so
        that the new one's are found."""
        data = {
            name: self.cleaned_data.get(name)
            for name in (
                "type",
                "item",
                "resource",
                "description",
                "quantity",
                "unit_of_measure",
                "unit_price",
            )
        }
        data["line_discount_percent"] = self.cleaned_data.get("line_discount_percent") or Decimal(
            "0"
        )
        if line is not None and (
            data["type"] != line.type
            or data["item"] != line.item
            or data["resource"] != line.resource
        ):
            for name in ("description", "unit_of_measure", "unit_price"):
                if data[name] == getattr(line, name):
                    del data[name]
        return data

    def add_service_errors(self, exc: ValidationError) -> None:
        """Errors of the services, on the fields of this form where there is one."""
        if not hasattr(exc, "error_dict"):
            self.add_error(None, exc.messages)
            return
        for name, errors in exc.message_dict.items():
            target = "no" if name in ("item", "resource") else name
            self.add_error(target if target in self.fields else None, errors)

    @classmethod
    def initial_for(cls, line: SalesOrderLine) -> dict[str, Any]:
        record = line.item if line.item_id else line.resource
        return {
            "type": line.type,
            "no": getattr(record, "no", ""),
            "description": line.description,
            "quantity": line.quantity,
            "unit_of_measure": line.unit_of_measure.code,
            "unit_price": line.unit_price,
            "line_discount_percent": line.line_discount_percent,
        }
