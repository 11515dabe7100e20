"""Forms of the assisted setup and the connection page. Checks that reach the CRM are done
through callables the view passes in, so the forms stay free of HTTP and storage details."""

from collections.abc import Callable
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts import selectors as account_selectors
from syncjobs.defaults import ALL_AREAS, AREA_CHOICES

from . import selectors, services
from .errors import SetupProblem
from .models import OwnerMode

SECRET_STORED_HELP = _("A secret is stored. Leave this blank to keep it; it is never shown.")


def attach_problem(form: forms.Form, problem: SetupProblem) -> None:
    field = problem.field if problem.field in form.fields else None
    form.add_error(field, problem.message)


def stored_secret_reuse_error(form: forms.Form, data: dict[str, Any]) -> str | None:
    """A stored secret is only ever sent where it was confirmed: when the environment or token
    URL changes, the secret must be typed again (else whoever may edit the URLs could point the
    token request at their own server and receive the stored secret)."""
    if data.get("client_secret"):
        return None
    for name in ("environment_url", "token_url"):
        before = str(form.initial.get(name) or "")
        if before and name in data and str(data[name]) != before:
            return str(_("The URLs changed: enter the client secret again to send it there."))
    return None


def existing_key_error(*, user: Any, key: str) -> str | None:
    """Why `key` cannot be used as `user`'s existing web service access key, or None."""
    if not key:
        return str(_("Enter the user's web service access key."))
    if not account_selectors.webservice_key_check(user=user, key=key):
        return str(
            _(
                "This is not the current web service access key of %(user)s (or the key "
                "has expired)."
            )
            % {"user": user.get_username()}
        )
    return None


class SecretInput(forms.PasswordInput):
    """Never renders a value back to the browser."""

    def __init__(self, attrs: dict | None = None) -> None:
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
        self.url_notice = ""
        if stored_secret:
            self.fields["client_secret"].help_text = SECRET_STORED_HELP

    def clean_environment_url(self) -> str:
        try:
            url, self.url_notice = services.environment_url_normalize(
                url=self.cleaned_data["environment_url"]
            )
        except SetupProblem as problem:
            raise forms.ValidationError(problem.message, code=problem.code) from None
        return url

    def clean_token_url(self) -> str:
        try:
            return services.token_url_normalize(url=self.cleaned_data["token_url"])
        except SetupProblem as problem:
            raise forms.ValidationError(problem.message, code=problem.code) from None

    def clean_client_id(self) -> str:
        return self.cleaned_data["client_id"].strip()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        reuse_error = stored_secret_reuse_error(self, data)
        if reuse_error:
            self.add_error("client_secret", reuse_error)
            return data
        secret = data.get("client_secret") or self.stored_secret
        if not secret:
            self.add_error("client_secret", _("Enter the client secret."))
            return data
        data["client_secret"] = secret
        if self.errors:
            return data
        connection = services.connection_settings_build(
            environment_url=data["environment_url"],
            token_url=data["token_url"],
            client_id=data["client_id"],
            client_secret=secret,
        )
        try:
            check = selectors.crm_connection_check(connection=connection)
            # Catch an administrator as integration user here already: it is the commonest mistake.
            user = selectors.integration_user_check(connection=connection, user_id=check.user_id)
        except SetupProblem as problem:
            attach_problem(self, problem)
            return data
        data["check"] = check
        data["integration_user"] = user
        data["connection"] = connection
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


class SolutionForm(AdminCredentialsMixin):
    import_solution = forms.BooleanField(
        label=_("Import the integration solution and assign the integration roles"),
        required=False,
        initial=True,
    )

    def __init__(
        self,
        *args: Any,
        deploy: Callable[[str, str], services.SolutionResult] | None = None,
        done: dict | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deploy = deploy
        self.done = done

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("import_solution"):
            return data
        if self.done and not data.get("admin_password"):
            return data
        if not data.get("admin_username") or not data.get("admin_password"):
            self.add_error(
                "admin_password", _("Enter the user name and password of a CRM administrator.")
            )
            return data
        if self.deploy is None:
            self.add_error(None, _("Complete the connection step first."))
            return data
        try:
            self.result = self.deploy(data["admin_username"], data["admin_password"])
        except SetupProblem as problem:
            attach_problem(self, problem)
        data.pop("admin_password", None)
        return data


class IntegrationUserForm(AdminCredentialsMixin):
    def __init__(
        self,
        *args: Any,
        inspect: Callable[[], selectors.IntegrationUser] | None = None,
        assign: Callable[[str, str], list[str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.inspect = inspect
        self.assign = assign
        self.integration_user: selectors.IntegrationUser | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.inspect is None:
            self.add_error(None, _("Complete the connection step first."))
            return data
        try:
            user = self.inspect()
            if user.missing_roles:
                if not data.get("admin_username") or not data.get("admin_password"):
                    self.integration_user = user
                    self.add_error(
                        "admin_password",
                        _(
                            "The integration user %(name)s lacks the roles %(roles)s. Enter the "
                            "credentials of a CRM "
                            "administrator once to assign them."
                        )
                        % {"name": user.name, "roles": ", ".join(user.missing_role_names)},
                    )
                    return data
                assert self.assign is not None
                self.assign(data["admin_username"], data["admin_password"])
                user = self.inspect()
        except SetupProblem as problem:
            attach_problem(self, problem)
            return data
        finally:
            data.pop("admin_password", None)
        self.integration_user = user
        data["integration_user"] = user
        return data


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

    def __init__(
        self, *args: Any, crm_users: Callable[[], list] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        users = crm_users() if crm_users else []
        self.user_names = {str(u.id): u.name for u in users}
        self.fields["default_owner"].choices = [("", "—")] + [
            (str(u.id), f"{u.name} <{u.email}>" if u.email else u.name) for u in users
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("areas"):
            self.add_error("areas", _("Choose at least one area to synchronize."))
        if data.get("owner_mode") == OwnerMode.DEFAULT_OWNER and not data.get("default_owner"):
            self.add_error("default_owner", _("Choose the CRM user who owns new CRM records."))
        data["default_owner_name"] = self.user_names.get(data.get("default_owner") or "", "")
        return data


class AvailabilityForm(forms.Form):
    GENERATE, EXISTING = "generate", "existing"

    publish = forms.BooleanField(
        label=_("Publish the ERP's item availability web service to the CRM"),
        required=False,
        initial=True,
    )
    user = forms.ModelChoiceField(
        label=_("ERP user whose web service access key the CRM uses"), queryset=None, required=False
    )
    key_action = forms.ChoiceField(
        label=_("Web service access key"),
        choices=[
            (GENERATE, _("Generate a new key for this user")),
            (EXISTING, _("Enter the user's existing key")),
        ],
        initial=GENERATE,
        required=False,
        widget=forms.RadioSelect,
    )
    existing_key = forms.CharField(label=_("Existing key"), required=False, widget=SecretInput())

    def __init__(self, *args: Any, stored_key: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = account_selectors.availability_users()
        self.stored_key = stored_key
        if stored_key:
            self.fields["existing_key"].help_text = SECRET_STORED_HELP

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("publish"):
            return data
        user = data.get("user")
        if user is None:
            self.add_error(
                "user", _("Choose the ERP user whose web service access key the CRM uses.")
            )
            return data
        data["key_action"] = data.get("key_action") or self.GENERATE
        if data["key_action"] == self.EXISTING:
            key = data.get("existing_key") or self.stored_key
            error = existing_key_error(user=user, key=key)
            if error:
                self.add_error("existing_key", error)
            else:
                data["existing_key"] = key
        return data


class SalesOrdersForm(forms.Form):
    INTEGRATION_USER = "integration"

    enabled = forms.BooleanField(
        label=_("Enable sales order integration"), required=False, initial=True
    )
    processor = forms.ChoiceField(
        label=_("CRM user who processes CRM sales orders"), required=False
    )
    auto_create = forms.BooleanField(
        label=_("Automatically create ERP sales orders from submitted CRM orders"), required=False
    )

    def __init__(
        self, *args: Any, crm_users: Callable[[], list] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        users = crm_users() if crm_users else []
        self.user_names = {str(u.id): u.name for u in users}
        self.fields["processor"].choices = [(self.INTEGRATION_USER, _("The integration user"))] + [
            (str(u.id), u.name) for u in users
        ]
        self.fields["processor"].initial = self.INTEGRATION_USER


class FinishForm(forms.Form):
    enable = forms.BooleanField(
        label=_("Enable the integration when I finish"), required=False, initial=True
    )


# --- The connection page ------------------------------------------------------------------------


class ConnectionSettingsForm(forms.Form):
    KEEP, GENERATE, EXISTING = "keep", "generate", "existing"

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
            (KEEP, _("Keep the stored key")),
            (GENERATE, _("Generate a new key for this user (the old key stops working)")),
            (EXISTING, _("Enter the user's existing key")),
        ],
        initial=KEEP,
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

    clean_environment_url = CrmForm.clean_environment_url
    clean_token_url = CrmForm.clean_token_url

    def __init__(
        self, *args: Any, crm_users: list | None = None, has_key: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.url_notice = ""
        self.has_key = has_key
        self.fields["availability_user"].queryset = account_selectors.availability_users()
        users = list(crm_users or [])
        initial = self.initial
        known = {str(u.id) for u in users}
        # Keep the saved choices selectable even when the CRM cannot be read right now.
        for key, name in (
            ("default_owner", "default_owner_name"),
            ("order_processor", "order_processor_name"),
        ):
            value = str(initial.get(key) or "")
            if value and value != SalesOrdersForm.INTEGRATION_USER and value not in known:
                users.append(selectors.CrmUser(id=value, name=initial.get(name) or value, email=""))
                known.add(value)
        self.user_names = {str(u.id): u.name for u in users}
        self.fields["default_owner"].choices = [("", "—")] + [(str(u.id), u.name) for u in users]
        self.fields["order_processor"].choices = [
            (SalesOrdersForm.INTEGRATION_USER, _("The integration user"))
        ] + [(str(u.id), u.name) for u in users]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        reuse_error = stored_secret_reuse_error(self, data)
        if reuse_error:
            self.add_error("client_secret", reuse_error)
        if data.get("owner_mode") == OwnerMode.DEFAULT_OWNER and not data.get("default_owner"):
            self.add_error("default_owner", _("Choose the CRM user who owns new CRM records."))
        if not data.get("areas"):
            self.add_error("areas", _("Choose at least one area to synchronize."))
        if data.get("availability_enabled"):
            user = data.get("availability_user")
            action = data.get("availability_key_action") or self.KEEP
            if user is None:
                self.add_error(
                    "availability_user",
                    _("Choose the ERP user whose web service access key the CRM uses."),
                )
            elif action == self.KEEP and (
                not self.has_key or "availability_user" in self.changed_data
            ):
                self.add_error(
                    "availability_key_action",
                    _("Generate a key for this user or enter the user's existing key."),
                )
            elif action == self.EXISTING:
                error = existing_key_error(
                    user=user, key=data.get("availability_existing_key") or ""
                )
                if error:
                    self.add_error("availability_existing_key", error)
        data["default_owner_name"] = self.user_names.get(data.get("default_owner") or "", "")
        data["order_processor_name"] = self.user_names.get(data.get("order_processor") or "", "")
        return data


class AdminCredentialsForm(AdminCredentialsMixin):
    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("admin_username") or not data.get("admin_password"):
            self.add_error(
                "admin_password", _("Enter the user name and password of a CRM administrator.")
            )
        return data


class DisableForm(forms.Form):
    reason = forms.CharField(label=_("Reason (optional)"), required=False, max_length=500)
