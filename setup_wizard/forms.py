"""Forms of the assisted setup and the connection page.

They only parse: no network call and no side effect in clean(). Whether the input is acceptable
is decided by `validation` (called by the views after is_valid()); its problems are attached to
these forms' fields with `attach_problems`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from connection.errors import ConnectionProblem
from connection.models import OwnerMode
from connection.selectors import CrmUser
from syncjobs.defaults import ALL_AREAS, AREA_CHOICES

from .validation import KEY_EXISTING, KEY_GENERATE, KEY_KEEP, SetupInvalid

SECRET_STORED_HELP = _("A secret is stored. Leave this blank to keep it; it is never shown.")
INTEGRATION_USER = "integration"


def attach_problem(form: forms.Form, problem: ConnectionProblem) -> None:
    field = problem.field if problem.field in form.fields else None
    form.add_error(field, problem.message)


def attach_problems(
    form: forms.Form, invalid: SetupInvalid, field_names: Mapping[str, str] | None = None
) -> None:
    """Show each problem on the form field it concerns (`field_names` maps the setup input's
    names to this form's), else on the whole form."""
    for name, messages in invalid.problems.items():
        target = (field_names or {}).get(name, name)
        for message in messages:
            form.add_error(target if target in form.fields else None, message)


def stored_secret_reuse_error(form: forms.Form, data: dict[str, Any]) -> str | None:
    """A stored secret is only ever sent where it was confirmed: when the environment or token
    URL changes, the secret must be typed again (else whoever may edit the URLs could point the
    token request at their own server and receive the stored secret)."""
    if data.get("client_secret"):
        return None
    for name in ("environment_url", "token_url"):
        before = str(form.initial.get(name) or "")
        if before and name in data and str(data[name]).strip() != before:
            return str(_("The URLs changed: enter the client secret again to send it there."))
    return None


def user_choices(users: Iterable[CrmUser], *, with_email: bool = False) -> list[tuple[str, str]]:
    return [
        (str(u.id), f"{u.name} <{u.email}>" if with_email and u.email else u.name) for u in users
    ]


class SecretInput(forms.PasswordInput):
    """Never renders a value back to the browser."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(
            attrs={"autocomplete": "new-password", **(attrs or {})}, render_value=False
        )


class WelcomeForm(forms.Form):
    pass


class CrmForm(forms.Form):
    environment_url = forms.CharField(
        label=_("Environment URL"),
        max_length=300,
        help_text=_("For example https://contoso.crm.dynamics.com (no path)."),
        widget=forms.TextInput(attrs={"autocomplete": "url", "spellcheck": "false"}),
    )
    token_url = forms.CharField(
        label=_("Token URL"),
        max_length=500,
        help_text=_("For example https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token."),
        widget=forms.TextInput(attrs={"spellcheck": "false"}),
    )
    client_id = forms.CharField(label=_("Client id"), max_length=100)
    client_secret = forms.CharField(
        label=_("Client secret"), max_length=500, required=False, widget=SecretInput()
    )

    def __init__(self, *args: Any, stored_secret: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stored_secret = stored_secret
        if stored_secret:
            self.fields["client_secret"].help_text = SECRET_STORED_HELP

    def clean_client_id(self) -> str:
        return str(self.cleaned_data["client_id"]).strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        reuse_error = stored_secret_reuse_error(self, data)
        if reuse_error:
            self.add_error("client_secret", reuse_error)
            return data
        # A blank secret field means "keep the one typed earlier or saved".
        data["client_secret"] = data.get("client_secret") or self.stored_secret
        return data


class AdminCredentialsMixin(forms.Form):
    admin_username = forms.CharField(
        label=_("Administrator user name"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        help_text=_("A CRM user with the System Administrator role. Used once, never stored."),
    )
    admin_password = forms.CharField(
        label=_("Administrator password"), required=False, widget=SecretInput()
    )

    def has_admin_credentials(self) -> bool:
        data = self.cleaned_data
        return bool(data.get("admin_username") and data.get("admin_password"))


class SolutionForm(AdminCredentialsMixin):
    import_solution = forms.BooleanField(
        label=_("Import the integration solution and assign the integration roles"),
        required=False,
        initial=True,
        help_text=_(
            "Optional. Without it the integration runs, but the CRM gets neither the "
            "integration roles nor the ERP connection record (item availability inside the CRM): "
            "both come with a later redeploy from the connection page."
        ),
    )


class IntegrationUserForm(AdminCredentialsMixin):
    pass


class AreasForm(forms.Form):
    areas = forms.MultipleChoiceField(
        label=_("What to synchronize"),
        choices=AREA_CHOICES,
        initial=ALL_AREAS,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    owner_mode = forms.ChoiceField(
        label=_("Who owns new CRM records"),
        choices=OwnerMode.choices,
        initial=OwnerMode.SALESPERSON,
        widget=forms.RadioSelect,
    )
    default_owner = forms.ChoiceField(label=_("Default owner"), required=False)

    def __init__(self, *args: Any, crm_users: list[CrmUser] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_owner"].choices = [("", "—")] + user_choices(  # type: ignore[attr-defined]
            crm_users or [], with_email=True
        )


class AvailabilityForm(forms.Form):
    publish = forms.BooleanField(
        label=_("Publish the ERP's item availability web service to the CRM"),
        required=False,
        initial=True,
    )
    user: forms.ModelChoiceField[Any] = forms.ModelChoiceField(
        label=_("ERP user whose web service access key the CRM uses"),
        queryset=None,  # type: ignore[arg-type]  # set in __init__ (the permission may change)
        required=False,
    )
    key_action = forms.ChoiceField(
        label=_("Web service access key"),
        choices=[
            (KEY_GENERATE, _("Generate a new key for this user")),
            (KEY_EXISTING, _("Enter the user's existing key")),
        ],
        initial=KEY_GENERATE,
        required=False,
        widget=forms.RadioSelect,
    )
    existing_key = forms.CharField(label=_("Existing key"), required=False, widget=SecretInput())

    def __init__(self, *args: Any, stored_key: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = account_selectors.availability_users()  # type: ignore[attr-defined]
        self.stored_key = stored_key
        if stored_key:
            self.fields["existing_key"].help_text = SECRET_STORED_HELP

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["existing_key"] = data.get("existing_key") or self.stored_key
        return data


class SalesOrdersForm(forms.Form):
    enabled = forms.BooleanField(
        label=_("Enable sales order integration"), required=False, initial=True
    )
    processor = forms.ChoiceField(
        label=_("CRM user who processes CRM sales orders"), required=False
    )
    auto_create = forms.BooleanField(
        label=_("Automatically create ERP sales orders from submitted CRM orders"), required=False
    )

    def __init__(self, *args: Any, crm_users: list[CrmUser] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["processor"].choices = [  # type: ignore[attr-defined]
            (INTEGRATION_USER, _("The integration user"))
        ] + user_choices(crm_users or [])
        self.fields["processor"].initial = INTEGRATION_USER


class FinishForm(forms.Form):
    enable = forms.BooleanField(
        label=_("Enable the integration when I finish"), required=False, initial=True
    )


# --- The connection page ------------------------------------------------------------------------


class ConnectionSettingsForm(forms.Form):
    environment_url = CrmForm.base_fields["environment_url"]
    token_url = CrmForm.base_fields["token_url"]
    client_id = CrmForm.base_fields["client_id"]
    client_secret = forms.CharField(
        label=_("Client secret"),
        max_length=500,
        required=False,
        widget=SecretInput(),
        help_text=SECRET_STORED_HELP,
    )
    areas = forms.MultipleChoiceField(
        label=_("What to synchronize"),
        choices=AREA_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Changed areas take effect when you use the default synchronization setup."),
    )
    owner_mode = AreasForm.base_fields["owner_mode"]
    default_owner = forms.ChoiceField(label=_("Default owner"), required=False)
    availability_enabled = forms.BooleanField(
        label=_("Publish the ERP's item availability web service to the CRM"), required=False
    )
    availability_user = AvailabilityForm.base_fields["user"]
    availability_key_action = forms.ChoiceField(
        label=_("Web service access key"),
        choices=[
            (KEY_KEEP, _("Keep the stored key")),
            (KEY_GENERATE, _("Generate a new key for this user (the old key stops working)")),
            (KEY_EXISTING, _("Enter the user's existing key")),
        ],
        initial=KEY_KEEP,
        required=False,
        widget=forms.RadioSelect,
    )
    availability_existing_key = AvailabilityForm.base_fields["existing_key"]
    sales_order_integration = forms.BooleanField(
        label=_("Enable sales order integration"), required=False
    )
    order_processor = forms.ChoiceField(
        label=_("CRM user who processes CRM sales orders"), required=False
    )
    auto_create_sales_orders = forms.BooleanField(
        label=_("Automatically create ERP sales orders from submitted CRM orders"), required=False
    )

    # Setup input names → this form's fields, for attach_problems.
    FIELD_NAMES = {
        "default_owner_id": "default_owner",
        "availability_key": "availability_existing_key",
        "order_processor_id": "order_processor",
    }

    def __init__(self, *args: Any, crm_users: list[CrmUser] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["availability_user"].queryset = account_selectors.availability_users()  # type: ignore[attr-defined]
        users = list(crm_users or [])
        self.fields["default_owner"].choices = [("", "—")] + user_choices(users)  # type: ignore[attr-defined]
        self.fields["order_processor"].choices = [  # type: ignore[attr-defined]
            (INTEGRATION_USER, _("The integration user"))
        ] + user_choices(users)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        reuse_error = stored_secret_reuse_error(self, data)
        if reuse_error:
            self.add_error("client_secret", reuse_error)
        return data


class AdminCredentialsForm(AdminCredentialsMixin):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("admin_username") or not data.get("admin_password"):
            self.add_error(
                "admin_password", _("Enter the user name and password of a CRM administrator.")
            )
        return data


class DisableForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=500)
