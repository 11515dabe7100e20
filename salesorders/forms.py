from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from erp.models import Item, Resource

from .models import SalesOrderSetup


class SalesOrderSetupForm(forms.Form):
    """The write-in product, by number: an ERP may hold far too many items for a drop-down."""

    write_in_type = forms.ChoiceField(
        label=_("Write-in product type"), choices=SalesOrderSetup.WriteInType.choices
    )
    write_in_no = forms.CharField(
        label=_("Write-in product no."),
        max_length=20,
        required=False,
        help_text=_("The number of the item or resource; empty: write-in lines are refused."),
    )

    @classmethod
    def for_setup(cls, setup: SalesOrderSetup, data: Any = None) -> "SalesOrderSetupForm":
        record = setup.write_in_item or setup.write_in_resource
        initial = {"write_in_type": setup.write_in_type, "write_in_no": record.no if record else ""}
        return cls(data, initial=initial)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["write_in_item"] = data["write_in_resource"] = None
        number = (data.get("write_in_no") or "").strip()
        if not number:
            return data
        if data.get("write_in_type") == SalesOrderSetup.WriteInType.RESOURCE:
            data["write_in_resource"] = Resource.objects.filter(no=number).first()
            if data["write_in_resource"] is None:
                self.add_error("write_in_no", _("There is no resource %(no)s.") % {"no": number})
        else:
            data["write_in_item"] = Item.objects.filter(no=number).first()
            if data["write_in_item"] is None:
                self.add_error("write_in_no", _("There is no item %(no)s.") % {"no": number})
        return data
