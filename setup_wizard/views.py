"""The assisted setup wizard (/setup/) and the connection page (/setup/connection/, /connection/).

Thin views: every check and write is a selector or service shared with `setup_connection`.
"""

import uuid
from functools import cached_property
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods
from formtools.wizard.views import NamedUrlSessionWizardView

from accounts.roles import INTEGRATION_ADMIN, role_required
from dataverse.client import ConnectionSettings
from syncjobs import selectors as sync_selectors

from . import forms, selectors, services
from .errors import SetupProblem
from .models import ConnectionChange, OwnerMode

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
STEP_TITLES = {
    "welcome": _("Welcome"),
    "crm": _("Connection"),
    "solution": _("Integration solution"),
    "user": _("Integration user"),
    "areas": _("What to synchronize"),
    "availability": _("Item availability"),
    "sales-orders": _("Sales orders"),
    "finish": _("Finish"),
}


@method_decorator(sensitive_post_parameters(), name="dispatch")
@method_decorator(role_required(INTEGRATION_ADMIN), name="dispatch")
class SetupWizardView(NamedUrlSessionWizardView):
    form_list = STEPS
    storage_name = "setup_wizard.storage.EncryptedSessionStorage"
    template_name = "setup_wizard/wizard.html"

    # --- what earlier steps established --------------------------------------------------------

    def _crm(self) -> dict[str, Any] | None:
        data = self.get_cleaned_data_for_step("crm")
        return data if data and data.get("check") else None

    def _connection(self) -> ConnectionSettings | None:
        crm = self._crm()
        return crm["connection"] if crm else None

    @cached_property
    def _crm_users(self) -> list:
        connection = self._connection()
        if connection is None:
            return []
        try:
            return selectors.crm_user_list(connection=connection)
        except SetupProblem:
            return []

    def _marker(self) -> str:
        crm = self._crm()
        return f"{crm['environment_url']}|{crm['check'].user_id}" if crm else ""

    def _stored(self, step: str, field: str) -> str:
        data = self.storage.get_step_data(step)
        return (data.get(f"{step}-{field}") or "") if data else ""

    @sensitive_variables("password")
    def _solution_deploy(
        self, username: str, password: str, *, import_solution: bool
    ) -> services.SolutionResult:
        crm = self._crm()
        if crm is None:
            raise SetupProblem(_("Complete the connection step first."))
        return services.solution_deploy(
            connection=crm["connection"],
            admin_username=username,
            admin_password=password,
            integration_user_id=crm["check"].user_id,
            import_solution=import_solution,
        )

    def _remember(self, key: str, value: dict[str, Any]) -> None:
        extra = dict(self.storage.extra_data)
        extra[key] = value
        self.storage.extra_data = extra

    @sensitive_variables("password")
    def _deploy(self, username: str, password: str) -> services.SolutionResult:
        result = self._solution_deploy(username, password, import_solution=True)
        self._remember(
            "solution",
            {"marker": self._marker(), "import_job_id": result.import_job_id, "roles": True},
        )
        return result

    @sensitive_variables("password")
    def _assign(self, username: str, password: str) -> services.SolutionResult:
        result = self._solution_deploy(username, password, import_solution=False)
        self._remember("roles", {"marker": self._marker()})
        return result

    def _inspect(self) -> selectors.IntegrationUser:
        crm = self._crm()
        if crm is None:
            raise SetupProblem(_("Complete the connection step first."))
        return selectors.integration_user_check(
            connection=crm["connection"], user_id=crm["check"].user_id
        )

    def _solution_done(self) -> dict | None:
        done = self.storage.extra_data.get("solution")
        return done if done and done.get("marker") == self._marker() else None

    # --- formtools hooks --------------------------------------------------------------------------

    @cached_property
    def _saved(self) -> Any:
        return selectors.crm_connection_get()

    def _secret(self) -> str:
        """The secret typed earlier in this wizard, else the one of the saved connection."""
        stored = self._stored("crm", "client_secret")
        if not stored and self._saved is not None and self._saved.has_client_secret:
            stored = self._saved.client_secret
        return stored

    def get_form_initial(self, step: str) -> dict[str, Any]:
        saved = self._saved
        if saved is None:
            return super().get_form_initial(step)
        # Running the wizard again starts from the saved settings.
        processor = saved.order_processor_id
        initial = {
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
                "processor": forms.SalesOrdersForm.INTEGRATION_USER
                if processor is None or processor == saved.integration_user_id
                else str(processor),
                "auto_create": saved.auto_create_sales_orders,
            },
        }
        return initial.get(step, {})

    def get_form_kwargs(self, step: str | None = None) -> dict[str, Any]:
        if step == "crm":
            return {"stored_secret": self._secret()}
        if step == "solution":
            return {"deploy": self._deploy, "done": self._solution_done()}
        if step == "user":
            return {"inspect": self._inspect, "assign": self._assign}
        if step in ("areas", "sales-orders"):
            return {"crm_users": lambda: self._crm_users}
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
        data.pop(form.add_prefix("admin_password"), None)
        return data

    def process_step(self, form: Any) -> Any:
        notice = getattr(form, "url_notice", "")
        if notice:
            messages.info(self.request, notice)
        return super().process_step(form)

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        if "test_connection" in self.request.POST and self.steps.current == "crm":
            form = self.get_form(data=self.request.POST)
            if form.is_valid():
                self.storage.set_step_data("crm", self.get_form_step_data(form))
                check = form.cleaned_data["check"]
                messages.success(
                    self.request,
                    _(
                        "The connection test was successful: signed in as %(user)s; the CRM's "
                        "base currency is "
                        "%(currency)s."
                    )
                    % {
                        "user": form.cleaned_data["integration_user"].name,
                        "currency": check.base_currency,
                    },
                )
                if form.url_notice:
                    messages.info(self.request, form.url_notice)
                return redirect(self.get_step_url("crm"))
            return self.render(form)
        return super().post(*args, **kwargs)

    def render_done(self, form: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().render_done(form, **kwargs)
        except SetupProblem as problem:
            messages.error(self.request, problem.message)
            self.storage.current_step = self.steps.last
            return redirect(self.get_step_url(self.steps.last))

    def get_context_data(self, form: Any, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(form=form, **kwargs)
        step = self.steps.current
        context["step_titles"] = [(name, STEP_TITLES[name]) for name, _form in STEPS]
        context["step_title"] = STEP_TITLES.get(step, step)
        context["current_step"] = step
        if step == "crm":
            context["secret_stored"] = bool(self._secret())
        if step == "solution":
            context["solution_done"] = self._solution_done()
        if step == "user":
            user = getattr(form, "integration_user", None)
            if user is None and self._crm():
                user = self._crm().get("integration_user")
            context["integration_user"] = user
        if step == "availability":
            context["service_url"] = selectors.availability_service_url()
        if step == "finish":
            crm = self._crm()
            context["summary_crm"] = crm
            context["summary_areas"] = (self.get_cleaned_data_for_step("areas") or {}).get(
                "areas", []
            )
        return context

    @sensitive_variables("crm", "availability", "data")
    def done(
        self, form_list: Any, form_dict: dict[str, Any] | None = None, **kwargs: Any
    ) -> HttpResponse:
        form_dict = form_dict or {}
        crm = form_dict["crm"].cleaned_data
        solution = form_dict["solution"].cleaned_data
        user = form_dict["user"].cleaned_data["integration_user"]
        areas = form_dict["areas"].cleaned_data
        availability = form_dict["availability"].cleaned_data
        orders = form_dict["sales-orders"].cleaned_data
        finish = form_dict["finish"].cleaned_data
        processor = orders.get("processor") or forms.SalesOrdersForm.INTEGRATION_USER
        if processor == forms.SalesOrdersForm.INTEGRATION_USER:
            processor_id, processor_name = user.id, user.name
        else:
            processor_id = uuid.UUID(processor)
            processor_name = form_dict["sales-orders"].user_names.get(processor, processor)
        publish = bool(availability.get("publish"))
        data = services.SetupData(
            environment_url=crm["environment_url"],
            token_url=crm["token_url"],
            client_id=crm["client_id"],
            client_secret=crm["client_secret"],
            check=crm["check"],
            integration_user=user,
            solution_imported=bool(solution.get("import_solution")),
            roles_assigned=not user.missing_roles,
            areas=list(areas["areas"]),
            owner_mode=areas["owner_mode"],
            default_owner_id=uuid.UUID(areas["default_owner"])
            if areas.get("default_owner")
            else None,
            default_owner_name=areas.get("default_owner_name", ""),
            availability_enabled=publish,
            availability_user=availability.get("user") if publish else None,
            availability_key=availability.get("existing_key") or "",
            availability_generate_key=publish
            and availability.get("key_action") == forms.AvailabilityForm.GENERATE,
            sales_order_integration=bool(orders.get("enabled")),
            order_processor_id=processor_id,
            order_processor_name=processor_name,
            auto_create_sales_orders=bool(orders.get("auto_create")),
            enable=bool(finish.get("enable")),
        )
        services.setup_apply(
            data=data, actor=self.request.user, source=ConnectionChange.Source.WIZARD
        )
        messages.success(
            self.request,
            _("The connection to the CRM is saved%(enabled)s.")
            % {"enabled": _(" and the integration is enabled") if data.enable else ""},
        )
        return redirect("setup_wizard:complete")


setup_wizard = SetupWizardView.as_view(url_name="setup_wizard:step", done_step_name="done")


@role_required(INTEGRATION_ADMIN)
def setup_complete(request: HttpRequest) -> HttpResponse:
    connection = selectors.crm_connection_get()
    return render(
        request,
        "setup_wizard/complete.html",
        {
            "connection": connection,
            "mappings": sync_selectors.mapping_list(),
            "jobs": sync_selectors.integration_jobs_count(),
        },
    )


# --- The connection page --------------------------------------------------------------------------


def _initial(connection: Any) -> dict[str, Any]:
    processor = connection.order_processor_id
    return {
        "environment_url": connection.environment_url,
        "token_url": connection.token_url,
        "client_id": connection.client_id,
        "areas": connection.sync_areas,
        "owner_mode": connection.owner_mode,
        "default_owner": str(connection.default_owner_id or ""),
        "default_owner_name": connection.default_owner_name,
        "availability_enabled": connection.availability_enabled,
        "availability_user": connection.availability_user_id,
        "availability_key_action": forms.ConnectionSettingsForm.KEEP,
        "sales_order_integration": connection.sales_order_integration,
        "order_processor": forms.SalesOrdersForm.INTEGRATION_USER
        if processor is None or processor == connection.integration_user_id
        else str(processor),
        "order_processor_name": connection.order_processor_name,
        "auto_create_sales_orders": connection.auto_create_sales_orders,
    }


def _settings_form(connection: Any, data: Any = None) -> forms.ConnectionSettingsForm:
    try:
        users = selectors.crm_user_list(
            connection=selectors.crm_connection_settings(interactive=True)
        )
    except SetupProblem:
        users = []
    return forms.ConnectionSettingsForm(
        data, initial=_initial(connection), crm_users=users, has_key=connection.has_availability_key
    )


def _settings_values(connection: Any, data: dict[str, Any]) -> dict[str, Any]:
    processor = data.get("order_processor") or forms.SalesOrdersForm.INTEGRATION_USER
    if processor == forms.SalesOrdersForm.INTEGRATION_USER:
        processor_id, processor_name = (
            connection.integration_user_id,
            connection.integration_user_name,
        )
    else:
        processor_id, processor_name = uuid.UUID(processor), data["order_processor_name"]
    default_owner = (
        data.get("default_owner") if data["owner_mode"] == OwnerMode.DEFAULT_OWNER else ""
    )
    orders = bool(data.get("sales_order_integration"))
    return {
        "environment_url": data["environment_url"],
        "token_url": data["token_url"],
        "client_id": data["client_id"],
        "sync_areas": list(data["areas"]),
        "owner_mode": data["owner_mode"],
        "default_owner_id": uuid.UUID(default_owner) if default_owner else None,
        "default_owner_name": data["default_owner_name"] if default_owner else "",
        "availability_enabled": bool(data.get("availability_enabled")),
        "availability_user": data.get("availability_user"),
        "sales_order_integration": orders,
        "order_processor_id": processor_id if orders else None,
        "order_processor_name": processor_name if orders else "",
        "auto_create_sales_orders": orders and bool(data.get("auto_create_sales_orders")),
    }


def _page(
    request: HttpRequest,
    connection: Any,
    form: Any = None,
    admin_form: Any = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "setup_wizard/connection.html",
        {
            "connection": connection,
            "form": form or _settings_form(connection),
            "admin_form": admin_form or forms.AdminCredentialsForm(prefix="redeploy"),
            "disable_form": forms.DisableForm(prefix="disable"),
            "jobs": sync_selectors.integration_jobs_count(),
            "changes": selectors.connection_change_list(limit=50),
            "owner_default": OwnerMode.DEFAULT_OWNER,
        },
        status=status,
    )


@sensitive_post_parameters()
@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def connection_page(request: HttpRequest) -> HttpResponse:
    connection = selectors.crm_connection_get()
    if connection is None:
        messages.info(request, _("No CRM connection is set up yet. The assisted setup creates it."))
        return redirect("setup_wizard:start")
    if request.method == "GET":
        return _page(request, connection)
    action = request.POST.get("action", "save")
    try:
        if action == "save":
            form = _settings_form(connection, request.POST)
            if not form.is_valid():
                return _page(request, connection, form=form, status=400)
            key_action = form.cleaned_data.get("availability_key_action")
            existing = key_action == forms.ConnectionSettingsForm.EXISTING
            services.connection_settings_update(
                values=_settings_values(connection, form.cleaned_data),
                client_secret=form.cleaned_data["client_secret"],
                availability_key=form.cleaned_data.get("availability_existing_key", "")
                if existing
                else "",
                generate_availability_key=key_action == forms.ConnectionSettingsForm.GENERATE,
                actor=request.user,
            )
            if form.url_notice:
                messages.info(request, form.url_notice)
            messages.success(request, _("The connection settings are saved."))
        elif action == "test":
            check = selectors.crm_connection_check(
                connection=selectors.crm_connection_settings(interactive=True)
            )
            user = selectors.integration_user_check(
                connection=selectors.crm_connection_settings(interactive=True),
                user_id=check.user_id,
            )
            messages.success(
                request,
                _(
                    "The connection test was successful: signed in as %(user)s; the CRM's base "
                    "currency is %(currency)s."
                )
                % {"user": user.name, "currency": check.base_currency},
            )
        elif action == "enable":
            services.connection_enable(actor=request.user)
            messages.success(
                request, _("The integration is enabled; the scheduled jobs run again.")
            )
        elif action == "disable":
            disable_form = forms.DisableForm(request.POST, prefix="disable")
            disable_form.is_valid()
            reason = disable_form.cleaned_data.get("reason") or ""
            services.connection_disable(
                reason=reason, actor=request.user, source=ConnectionChange.Source.PAGE
            )
            messages.success(
                request, _("The integration is disabled; every scheduled job is paused.")
            )
        elif action == "redeploy":
            admin_form = forms.AdminCredentialsForm(request.POST, prefix="redeploy")
            if not admin_form.is_valid():
                return _page(request, connection, admin_form=admin_form, status=400)
            services.connection_solution_redeploy(
                admin_username=admin_form.cleaned_data["admin_username"],
                admin_password=admin_form.cleaned_data["admin_password"],
                actor=request.user,
            )
            messages.success(request, _("The solution, user roles, and tables have been deployed."))
        else:
            messages.error(request, _("Unknown action."))
    except SetupProblem as problem:
        messages.error(request, problem.message)
        if action == "save":
            form = _settings_form(connection, request.POST)
            form.is_valid()
            forms.attach_problem(form, problem)
            return _page(request, selectors.crm_connection_get(), form=form, status=400)
        if action == "redeploy":
            admin_form = forms.AdminCredentialsForm(request.POST, prefix="redeploy")
            admin_form.is_valid()
            forms.attach_problem(admin_form, problem)
            return _page(request, selectors.crm_connection_get(), admin_form=admin_form, status=400)
    return redirect(reverse("setup_wizard:connection"))


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def connection_reset_defaults(request: HttpRequest) -> HttpResponse:
    """ "Use default synchronization setup", after a confirmation page."""
    connection = selectors.crm_connection_get()
    if connection is None:
        return redirect("setup_wizard:start")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        count = services.connection_default_setup_reset(actor=request.user)
        messages.success(
            request,
            _("The default synchronization setup was restored: %(count)s mappings.")
            % {"count": count},
        )
        return redirect("setup_wizard:connection")
    return render(
        request,
        "setup_wizard/reset_confirm.html",
        {
            "connection": connection,
            "mappings": sync_selectors.mapping_list(),
            "jobs": sync_selectors.integration_jobs_count(),
        },
    )
