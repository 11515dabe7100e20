from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import SalesOrderSetup


class SalesOrderSetupForm(forms.ModelForm):
    class Meta:
        model = SalesOrderSetup
        fields = ["write_in_type", "write_in_item", "write_in_resource"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("write_in_type")
        if kind == SalesOrderSetup.WriteInType.RESOURCE and data.get("write_in_item"):
            self.add_error("write_in_item", _("Choose a resource for the type Resource."))
        if kind == SalesOrderSetup.WriteInType.ITEM and data.get("write_in_resource"):
            self.add_error("write_in_resource", _("Choose an item for the type Item."))
        return data
