"""The connection page (/connection/, also /setup/connection/): edit the saved connection, test,
enable, disable, redeploy the solution, refresh the CRM user list, reset the default setup.

Showing the page never calls the CRM: the owner and order processor choices come from the user
list cached on the connection, which "Refresh" reads again.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods

from accounts.roles import INTEGRATION_ADMIN, role_required
from connection import selectors as connection_selectors
from connection import services as connection_services
from connection.errors import ConnectionProblem
from connection.models import ConnectionChange, CrmConnection, OwnerMode
from syncjobs import fullsync, jobqueue
from syncjobs import selectors as sync_selectors

from . import forms, services, validation
from .validation import SetupInput, SetupInvalid


def _initial(connection: CrmConnection) -> dict[str, Any]:
    processor = connection.order_processor_id
    return {
        "environment_url": connection.environment_url,
        "token_url": connection.token_url,
        "client_id": connection.client_id,
        "areas": connection.sync_areas,
        "owner_mode": connection.owner_mode,
        "default_owner": str(connection.default_owner_id or ""),
        "availability_enabled": connection.availability_enabled,
        "availability_user": connection.availability_user_id,
        "availability_key_action": validation.KEY_KEEP,
        "sales_order_integration": connection.sales_order_integration,
        "order_processor": forms.INTEGRATION_USER
        if processor is None or processor == connection.integration_user_id
        else str(processor),
        "auto_create_sales_orders": connection.auto_create_sales_orders,
    }


def _settings_form(connection: CrmConnection, data: Any = None) -> forms.ConnectionSettingsForm:
    users = services.saved_users(connection)
    return forms.ConnectionSettingsForm(data, initial=_initial(connection), crm_users=users)


@sensitive_variables("data")
def _settings_input(connection: CrmConnection, data: dict[str, Any]) -> SetupInput:
    processor = data.get("order_processor") or forms.INTEGRATION_USER
    user = data.get("availability_user")
    same_user = user is not None and user.pk == connection.availability_user_id
    return SetupInput(
        environment_url=data["environment_url"],
        token_url=data["token_url"],
        client_id=data["client_id"],
        # Blank keeps the stored secret (the form refuses that when a URL changed).
        client_secret=data.get("client_secret") or connection.client_secret,
        areas=list(data.get("areas") or []),
        owner_mode=data["owner_mode"],
        default_owner_id=data.get("default_owner") or "",
        availability_enabled=bool(data.get("availability_enabled")),
        availability_user=user,
        availability_key_action=data.get("availability_key_action") or validation.KEY_KEEP,
        availability_key=data.get("availability_existing_key") or "",
        # "Keep the stored key" only for the user it belongs to.
        availability_stored_key=connection.availability_key if same_user else "",
        sales_order_integration=bool(data.get("sales_order_integration")),
        order_processor_id="" if processor == forms.INTEGRATION_USER else processor,
        auto_create_sales_orders=bool(data.get("auto_create_sales_orders")),
    )


def _page(
    request: HttpRequest,
    connection: CrmConnection | None,
    form: Any = None,
    admin_form: Any = None,
    status: int = 200,
) -> HttpResponse:
    assert connection is not None
    return render(
        request,
        "setup_wizard/connection.html",
        {
            "connection": connection,
            "form": form or _settings_form(connection),
            "admin_form": admin_form or forms.AdminCredentialsForm(prefix="redeploy"),
            "disable_form": forms.DisableForm(prefix="disable"),
            "jobs": sync_selectors.integration_jobs_count(),
            "fullsync": fullsync.fullsync_summary(),
            "held": jobqueue.entries_on_hold(),
            "changes": connection_selectors.connection_change_list(limit=50),
            "owner_default": OwnerMode.DEFAULT_OWNER,
        },
        status=status,
    )


def _save(request: HttpRequest, connection: CrmConnection) -> HttpResponse | None:
    form = _settings_form(connection, request.POST)
    if not form.is_valid():
        return _page(request, connection, form=form, status=400)
    try:
        _saved, notice = services.connection_settings_save(
            data=_settings_input(connection, form.cleaned_data), actor=request.user
        )
    except SetupInvalid as invalid:
        forms.attach_problems(form, invalid, forms.ConnectionSettingsForm.FIELD_NAMES)
        return _page(request, connection_selectors.crm_connection_get(), form=form, status=400)
    except ConnectionProblem as problem:
        messages.error(request, problem.message)
        forms.attach_problem(form, problem)
        return _page(request, connection_selectors.crm_connection_get(), form=form, status=400)
    if notice:
        messages.info(request, notice)
    messages.success(request, _("The connection settings are saved."))
    return None


def _redeploy(request: HttpRequest, connection: CrmConnection) -> HttpResponse | None:
    admin_form = forms.AdminCredentialsForm(request.POST, prefix="redeploy")
    if not admin_form.is_valid():
        return _page(request, connection, admin_form=admin_form, status=400)
    try:
        services.connection_solution_redeploy(
            admin_username=admin_form.cleaned_data["admin_username"],
            admin_password=admin_form.cleaned_data["admin_password"],
            actor=request.user,
        )
    except ConnectionProblem as problem:
        messages.error(request, problem.message)
        forms.attach_problem(admin_form, problem)
        return _page(
            request, connection_selectors.crm_connection_get(), admin_form=admin_form, status=400
        )
    messages.success(request, _("The solution, user roles, and tables have been deployed."))
    return None


def _simple_action(request: HttpRequest, connection: CrmConnection, action: str) -> None:
    """The actions without a form of their own; their problems become a message."""
    if action == "test":
        check, user = connection_services.connection_test(connection=connection)
        messages.success(
            request,
            _(
                "The connection test was successful: signed in as %(user)s; the CRM's base "
                "currency is %(currency)s."
            )
            % {"user": user.name, "currency": check.base_currency},
        )
    elif action == "enable":
        services.integration_enable(actor=request.user, source=ConnectionChange.Source.PAGE)
        messages.success(request, _("The integration is enabled; the scheduled jobs run again."))
    elif action == "disable":
        disable_form = forms.DisableForm(request.POST, prefix="disable")
        reason = disable_form.cleaned_data.get("reason", "") if disable_form.is_valid() else ""
        connection_services.connection_disable(
            reason=reason, actor=request.user, source=ConnectionChange.Source.PAGE
        )
        messages.success(request, _("The integration is disabled; every scheduled job is paused."))
    elif action == "refresh_users":
        users = connection_services.crm_users_refresh(connection=connection)
        messages.success(
            request, _("The CRM user list is read again: %(count)s users.") % {"count": len(users)}
        )
    else:
        messages.error(request, _("Unknown action."))


@sensitive_post_parameters()
@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def connection_page(request: HttpRequest) -> HttpResponse:
    connection = connection_selectors.crm_connection_get()
    if connection is None:
        messages.info(request, _("No CRM connection is set up yet. The assisted setup creates it."))
        return redirect("setup_wizard:start")
    if request.method == "GET":
        return _page(request, connection)
    action = request.POST.get("action", "save")
    if action == "save":
        response = _save(request, connection)
    elif action == "redeploy":
        response = _redeploy(request, connection)
    else:
        response = None
        try:
            _simple_action(request, connection, action)
        except ConnectionProblem as problem:
            messages.error(request, problem.message)
    return response or redirect(reverse("setup_wizard:connection"))


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def connection_reset_defaults(request: HttpRequest) -> HttpResponse:
    """ "Use default synchronization setup", after a confirmation page."""
    connection = connection_selectors.crm_connection_get()
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
