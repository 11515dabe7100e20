"""The assisted setup wizard (/setup/) and the connection page (/setup/connection/, /connection/).

Thin views: forms parse, `validation` decides, services write. The wizard keeps what the CRM
told it at the connection step (the check, the integration user, the CRM users) in its session
storage for the rest of the run, so later steps do not ask the CRM again.
"""

from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from formtools.wizard.forms import ManagementForm
from formtools.wizard.views import NamedUrlSessionWizardView, WizardView

from accounts.roles import INTEGRATION_ADMIN, role_required
from connection import selectors as connection_selectors
from connection.errors import ConnectionProblem
from connection.models import ConnectionChange, CrmConnection, OwnerMode
from syncjobs import fullsync
from syncjobs import selectors as sync_selectors

from . import deploy, forms, services, validation
from .validation import SetupInput, SetupInvalid, VerifiedConnection

STEPS = [
    ("welcome", forms.WelcomeForm),
    ("crm", forms.CrmForm),
    ("solution", forms.SolutionForm),
    ("user", forms.IntegrationUserForm),
    ("areas", forms.AreasForm),
    ("availability", forms.AvailabilityForm),
    ("sales-orders", forms.SalesOrdersForm),
    ("finish", forms.FinishForm),
]
# Lazy: translated when a page is rendered, in the language of its request.
STEP_TITLES = {
    "welcome": gettext_lazy("Welcome"),
    "crm": gettext_lazy("Connection"),
    "solution": gettext_lazy("Integration solution"),
    "user": gettext_lazy("Integration user"),
    "areas": gettext_lazy("What to synchronize"),
    "availability": gettext_lazy("Item availability"),
    "sales-orders": gettext_lazy("Sales orders"),
    "finish": gettext_lazy("Finish"),
}
# Setup input names → the wizard's (step, form field).
WIZARD_FIELDS = {
    "environment_url": ("crm", "environment_url"),
    "token_url": ("crm", "token_url"),
    "client_id": ("crm", "client_id"),
    "client_secret": ("crm", "client_secret"),
    "areas": ("areas", "areas"),
    "owner_mode": ("areas", "owner_mode"),
    "default_owner_id": ("areas", "default_owner"),
    "availability_user": ("availability", "user"),
    "availability_key_action": ("availability", "key_action"),
    "availability_key": ("availability", "existing_key"),
    "order_processor_id": ("sales-orders", "processor"),
}
STEP_FIELD_NAMES = {name: field for name, (_step, field) in WIZARD_FIELDS.items()}


@method_decorator(sensitive_post_parameters(), name="dispatch")
@method_decorator(role_required(INTEGRATION_ADMIN), name="dispatch")
class SetupWizardView(NamedUrlSessionWizardView):
    form_list = STEPS
    storage_name = "setup_wizard.storage.EncryptedSessionStorage"
    template_name = "setup_wizard/wizard.html"

    # --- what earlier steps established (session storage, no CRM call) ------------------------

    def _stored(self, step: str, field: str) -> str:
        data = self.storage.get_step_data(step)
        return (data.get(f"{step}-{field}") or "") if data else ""

    def _extra(self, key: str) -> Any:
        return self.storage.extra_data.get(key)

    def _remember(self, **values: Any) -> None:
        extra = dict(self.storage.extra_data)
        extra.update(values)
        self.storage.extra_data = extra

    def _verified(self) -> VerifiedConnection | None:
        """The connection checked at the crm step of this run, with the secret typed there."""
        stored = self._extra("verified")
        if not stored:
            return None
        return VerifiedConnection.from_json(
            stored, client_secret=self._stored("crm", "client_secret")
        )

    def _crm_users(self) -> list[connection_selectors.CrmUser]:
        rows = self._extra("crm_users") or []
        return [connection_selectors.CrmUser(**row) for row in rows]

    def _marker(self) -> str:
        verified = self._verified()
        return f"{verified.environment_url}|{verified.check.user_id}" if verified else ""

    def _solution_done(self) -> dict[str, Any] | None:
        done = self._extra("solution")
        return done if done and done.get("marker") == self._marker() else None

    def _solution_available(self) -> bool:
        """Whether the CRM has (or will have) the integration solution in this run."""
        return bool(self._solution_done()) or bool(self._saved and self._saved.solution_imported)

    @cached_property
    def _saved(self) -> CrmConnection | None:
        return connection_selectors.crm_connection_get()

    def _secret(self) -> str:
        """The secret typed earlier in this wizard, else the one of the saved connection."""
        stored = self._stored("crm", "client_secret")
        if not stored and self._saved is not None and self._saved.has_client_secret:
            stored = self._saved.client_secret
        return stored

    # --- each step's check, after its form is valid --------------------------------------------

    @sensitive_variables("data")
    def _crm_step(self, form: forms.CrmForm) -> VerifiedConnection:
        data = form.cleaned_data
        verified = validation.connection_verify(
            data=SetupInput(
                environment_url=data["environment_url"],
                token_url=data["token_url"],
                client_id=data["client_id"],
                client_secret=data["client_secret"],
            ),
            known=self._verified(),
        )
        users = (
            self._crm_users()
            if self._extra("verified") and self._verified() == verified
            else validation.crm_users_read(connection=verified)
        )
        self._remember(verified=verified.to_json(), crm_users=[u.to_json() for u in users])
        return verified

    @sensitive_variables("data")
    def _solution_step(self, form: forms.SolutionForm) -> None:
        data = form.cleaned_data
        if not data.get("import_solution"):
            return
        if self._solution_done() and not data.get("admin_password"):
            return  # imported earlier in this run; nothing to repeat
        if not form.has_admin_credentials():
            raise SetupInvalid.one(
                "admin_password", _("Enter the user name and password of a CRM administrator.")
            )
        verified = self._verified()
        if verified is None:
            raise SetupInvalid.one("", _("Complete the connection step first."))
        result = deploy.solution_deploy(
            connection=verified.settings,
            admin_username=data["admin_username"],
            admin_password=data["admin_password"],
            integration_user_id=verified.check.user_id,
        )
        self._remember(
            solution={"marker": self._marker(), "import_job_id": result.import_job_id},
            verified=verified.with_user(self._user_with_roles(verified)).to_json(),
        )

    def _user_with_roles(
        self, verified: VerifiedConnection
    ) -> connection_selectors.IntegrationUser:
        return connection_selectors.integration_user_check(
            connection=verified.settings, user_id=verified.check.user_id
        )

    @sensitive_variables("data")
    def _user_step(self, form: forms.IntegrationUserForm) -> None:
        verified = self._verified()
        if verified is None:
            raise SetupInvalid.one("", _("Complete the connection step first."))
        # This step is about the user's roles, which the solution step may have changed: read
        # them once here.
        user = self._user_with_roles(verified)
        if user.missing_roles and (
            self._solution_available()
            or connection_selectors.integration_roles_available(connection=verified.settings)
        ):
            if not form.has_admin_credentials():
                self._remember(verified=verified.with_user(user).to_json())
                raise SetupInvalid.one(
                    "admin_password",
                    _(
                        "The integration user %(name)s lacks the roles %(roles)s. Enter the "
                        "credentials of a CRM administrator once to assign them."
                    )
                    % {"name": user.name, "roles": ", ".join(user.missing_role_names)},
                )
            data = form.cleaned_data
            deploy.solution_deploy(
                connection=verified.settings,
                admin_username=data["admin_username"],
                admin_password=data["admin_password"],
                integration_user_id=verified.check.user_id,
                import_solution=False,
            )
            user = self._user_with_roles(verified)
        self._remember(verified=verified.with_user(user).to_json())

    def _input(self, step_data: dict[str, dict[str, Any]]) -> SetupInput:
        """The setup input of the steps given (cleaned data per step)."""
        crm = step_data.get("crm") or {}
        areas = step_data.get("areas") or {}
        availability = step_data.get("availability") or {}
        orders = step_data.get("sales-orders") or {}
        finish = step_data.get("finish") or {}
        processor = orders.get("processor") or forms.INTEGRATION_USER
        return SetupInput(
            environment_url=crm.get("environment_url", ""),
            token_url=crm.get("token_url", ""),
            client_id=crm.get("client_id", ""),
            client_secret=crm.get("client_secret", ""),
            areas=list(areas.get("areas") or []),
            owner_mode=areas.get("owner_mode") or OwnerMode.SALESPERSON,
            default_owner_id=areas.get("default_owner") or "",
            availability_enabled=bool(availability.get("publish")),
            availability_user=availability.get("user"),
            availability_key_action=availability.get("key_action") or validation.KEY_GENERATE,
            availability_key=availability.get("existing_key") or "",
            sales_order_integration=bool(orders.get("enabled")),
            order_processor_id="" if processor == forms.INTEGRATION_USER else processor,
            auto_create_sales_orders=bool(orders.get("auto_create")),
            enable=bool(finish.get("enable", True)),
        )

    SECTIONS = {
        "areas": validation.AREAS,
        "availability": validation.AVAILABILITY,
        "sales-orders": validation.SALES_ORDERS,
    }

    def _step_check(self, step: str, form: Any) -> VerifiedConnection | None:
        """Run the check of `step` (raises SetupInvalid or ConnectionProblem); the crm step
        returns what it verified."""
        if step == "crm":
            return self._crm_step(form)
        if step == "solution":
            self._solution_step(form)
        elif step == "user":
            self._user_step(form)
        elif step in self.SECTIONS:
            validation.setup_validate(
                data=self._input({step: form.cleaned_data}),
                verified=self._verified(),
                crm_users=self._crm_users(),
                sections=[self.SECTIONS[step]],
            )
        return None

    # --- formtools hooks --------------------------------------------------------------------------

    def get_form_initial(self, step: str) -> dict[str, Any]:
        saved = self._saved
        if saved is None:
            return super().get_form_initial(step)  # type: ignore[no-any-return]
        # Running the wizard again starts from the saved settings.
        processor = saved.order_processor_id
        initial: dict[str, dict[str, Any]] = {
            "crm": {
                "environment_url": saved.environment_url,
                "token_url": saved.token_url,
                "client_id": saved.client_id,
            },
            "solution": {"import_solution": not saved.solution_imported},
            "areas": {
                "areas": saved.sync_areas,
                "owner_mode": saved.owner_mode,
                "default_owner": str(saved.default_owner_id or ""),
            },
            "availability": {
                "publish": saved.availability_enabled,
                "user": saved.availability_user_id,
            },
            "sales-orders": {
                "enabled": saved.sales_order_integration,
                "processor": forms.INTEGRATION_USER
                if processor is None or processor == saved.integration_user_id
                else str(processor),
                "auto_create": saved.auto_create_sales_orders,
            },
        }
        return initial.get(step, {})

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        if step == "crm":
            return {"stored_secret": self._secret()}
        if step in ("areas", "sales-orders"):
            return {"crm_users": self._crm_users()}
        if step == "availability":
            return {"stored_key": self._stored("availability", "existing_key")}
        return {}

    def get_form_step_data(self, form: Any) -> Any:
        data = form.data.copy()
        # A blank secret field means "keep the stored one": store the effective value (encrypted).
        for name in ("client_secret", "existing_key"):
            if name in form.fields:
                key = form.add_prefix(name)
                if not data.get(key) and form.cleaned_data.get(name):
                    data[key] = form.cleaned_data[name]
        # Store the URLs as the check normalised them.
        verified = self._verified()
        if form.prefix == "crm" and verified is not None:
            data[form.add_prefix("environment_url")] = verified.environment_url
            data[form.add_prefix("token_url")] = verified.token_url
        data.pop(form.add_prefix("admin_password"), None)
        return data

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        goto = self.request.POST.get("wizard_goto_step")
        management = ManagementForm(self.request.POST, prefix=self.prefix)
        if (goto and goto in self.get_form_list()) or not management.is_valid():
            return super().post(*args, **kwargs)  # type: ignore[no-any-return]
        step = management.cleaned_data["current_step"]
        if step != self.steps.current and self.storage.current_step is not None:
            self.storage.current_step = step  # the form was refreshed (formtools does the same)
        form = self.get_form(data=self.request.POST, files=self.request.FILES)
        if not form.is_valid():
            return self.render(form)
        try:
            verified = self._step_check(self.steps.current, form)
        except SetupInvalid as invalid:
            forms.attach_problems(form, invalid, STEP_FIELD_NAMES)
            return self.render(form)
        except ConnectionProblem as problem:
            forms.attach_problem(form, problem)
            return self.render(form)
        if verified is not None:
            if verified.notice:
                messages.info(self.request, verified.notice)
            if "test_connection" in self.request.POST:
                self.storage.set_step_data("crm", self.get_form_step_data(form))
                messages.success(
                    self.request,
                    _(
                        "The connection test was successful: signed in as %(user)s; the CRM's "
                        "base currency is %(currency)s."
                    )
                    % {
                        "user": verified.integration_user.name,
                        "currency": verified.check.base_currency,
                    },
                )
                return redirect(self.get_step_url("crm"))
        return super().post(*args, **kwargs)  # type: ignore[no-any-return]

    def get(self, *args: Any, **kwargs: Any) -> HttpResponse:
        if kwargs.get("step") == self.done_step_name:
            # Finishing writes (the CRM's record, a new key, the connection): only the finish
            # step's POST, with its CSRF token, does it; a link or an image cannot.
            return redirect(self.get_step_url(self.steps.last))
        return super().get(*args, **kwargs)  # type: ignore[no-any-return]

    def render_done(self, form: Any, **kwargs: Any) -> HttpResponse:
        try:
            # WizardView's, not NamedUrlWizardView's: that one redirects to the done URL and
            # finishes on the GET that follows.
            return WizardView.render_done(self, form, **kwargs)  # type: ignore[no-any-return]
        except SetupInvalid as invalid:
            # Something a step accepted no longer holds (e.g. the key changed meanwhile): show it
            # on the step it concerns.
            field = next(iter(invalid.problems))
            step = WIZARD_FIELDS.get(field, (self.steps.last, ""))[0]
            for message_list in invalid.problems.values():
                for message in message_list:
                    messages.error(self.request, message)
            self.storage.current_step = step
            return redirect(self.get_step_url(step))
        except ConnectionProblem as problem:
            messages.error(self.request, problem.message)
            self.storage.current_step = self.steps.last
            return redirect(self.get_step_url(self.steps.last))

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        step = self.steps.current
        context["step_titles"] = [(name, STEP_TITLES[name]) for name, _form in STEPS]
        context["step_title"] = STEP_TITLES.get(step, step)
        context["current_step"] = step
        verified = self._verified()
        if step == "crm":
            context["secret_stored"] = bool(self._secret())
        if step == "solution":
            context["solution_done"] = self._solution_done()
        if step == "user":
            context["integration_user"] = verified.integration_user if verified else None
            context["solution_available"] = self._solution_available()
        if step == "availability":
            context["service_url"] = connection_selectors.availability_service_url()
            context["solution_available"] = self._solution_available()
        if step == "finish":
            context["summary_crm"] = verified
            context["summary_areas"] = (self.get_cleaned_data_for_step("areas") or {}).get(
                "areas", []
            )
            context["solution_available"] = self._solution_available()
        return context

    @sensitive_variables("step_data", "data", "verified")
    def done(
        self, form_list: Any, form_dict: dict[str, Any] | None = None, **kwargs: Any
    ) -> HttpResponse:
        step_data = {name: form.cleaned_data for name, form in (form_dict or {}).items()}
        data = self._input(step_data)
        verified = self._verified()
        setup = validation.setup_validate(
            data=data,
            verified=verified,
            crm_users=self._crm_users(),
            sections=[s for s in validation.ALL_SECTIONS if s != validation.CONNECTION],
            solution_imported=bool(self._solution_done()),
        )
        if verified is None or not verified.matches(data):
            raise SetupInvalid.one("environment_url", _("Test the connection again."))
        services.setup_apply(
            setup=setup, actor=self.request.user, source=ConnectionChange.Source.WIZARD
        )
        messages.success(
            self.request,
            _("The connection to the CRM is saved%(enabled)s.")
            % {"enabled": _(" and the integration is enabled") if setup.enable else ""},
        )
        return redirect("setup_wizard:complete")


setup_wizard = SetupWizardView.as_view(url_name="setup_wizard:step", done_step_name="done")


@role_required(INTEGRATION_ADMIN)
def setup_complete(request: HttpRequest) -> HttpResponse:
    connection = connection_selectors.crm_connection_get()
    return render(
        request,
        "setup_wizard/complete.html",
        {
            "connection": connection,
            "mappings": sync_selectors.mapping_list(),
            "jobs": sync_selectors.integration_jobs_count(),
            "fullsync": fullsync.fullsync_summary(),
        },
    )
