"""Login with throttling; account and user pages with the web service key and REST API token
actions."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import (
    ApiTokenForm,
    AvailabilityAccessForm,
    ThrottledAuthenticationForm,
    WebServiceKeyForm,
)
from accounts.roles import INTEGRATION_ADMIN, role_required, signed_in_user
from connection.selectors import crm_connection_get


class ThrottledLoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        # A refused (throttled) attempt says so to scripts too: 429 with Retry-After.
        response = super().form_invalid(form)
        retry_after = getattr(form, "retry_after", 0)
        if retry_after:
            response.status_code = 429
            response["Retry-After"] = str(retry_after)
        return response


def _user_page(request: HttpRequest, target: User, *, own: bool) -> HttpResponse:
    key = selectors.webservice_key_get(user=target)
    context = {
        "target": target,
        "own": own,
        "key": key,
        "key_active": selectors.webservice_key_active(user=target),
        "availability_allowed": selectors.availability_user_allowed(user=target),
        "key_url": reverse("account-key") if own else reverse("user-key", args=[target.pk]),
        "revoke_url": reverse("account-key-revoke")
        if own
        else reverse("user-key-revoke", args=[target.pk]),
        "api_token": selectors.api_token_get(user=target),
        "api_token_active": selectors.api_token_active(user=target),
        "api_token_url": reverse("account-api-token")
        if own
        else reverse("user-api-token", args=[target.pk]),
        "api_token_revoke_url": reverse("account-api-token-revoke")
        if own
        else reverse("user-api-token-revoke", args=[target.pk]),
        "access_form": None
        if own
        else AvailabilityAccessForm(
            initial={"allowed": target.has_perm("accounts.use_item_availability_service")}
        ),
    }
    return render(request, "accounts/user_detail.html", context)


def _key_used_by_crm(target: User) -> bool:
    """Whether the CRM calls the item availability service with this user's key."""
    connection = crm_connection_get()
    return bool(
        connection
        and connection.availability_enabled
        and connection.availability_user_id == target.pk
    )


def _change_key(request: HttpRequest, target: User, *, back_url: str) -> HttpResponse:
    form = WebServiceKeyForm(request.POST or None)
    used_by_crm = _key_used_by_crm(target)
    if request.method == "POST" and form.is_valid():
        expires_at = services.webservice_key_expiry(expires_on=form.cleaned_data["expires_on"])
        key = services.webservice_key_generate(user=target, expires_at=expires_at)
        # The key is in this one response only: never in the session, a message or a log.
        response = render(
            request,
            "accounts/webservice_key_created.html",
            {
                "target": target,
                "key": key,
                "expires_at": expires_at,
                "back_url": back_url,
                "used_by_crm": used_by_crm,
            },
        )
        response["Cache-Control"] = "no-store"
        return response
    has_key = selectors.webservice_key_get(user=target) is not None
    return render(
        request,
        "accounts/webservice_key_form.html",
        {
            "target": target,
            "form": form,
            "has_key": has_key,
            "back_url": back_url,
            "used_by_crm": used_by_crm,
        },
    )


def _revoke_key(request: HttpRequest, target: User, *, back_url: str) -> HttpResponse:
    services.webservice_key_revoke(user=target)
    messages.success(request, _("The web service access key was revoked."))
    return redirect(back_url)


def _issue_api_token(request: HttpRequest, target: User, *, back_url: str) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        expires_at = services.api_token_expiry(expires_on=form.cleaned_data["expires_on"])
        key = services.api_token_issue(user=target, expires_at=expires_at)
        # The key is in this one response only: never in the session, a message or a log.
        response = render(
            request,
            "accounts/api_token_created.html",
            {"target": target, "key": key, "expires_at": expires_at, "back_url": back_url},
        )
        response["Cache-Control"] = "no-store"
        return response
    return render(
        request,
        "accounts/api_token_form.html",
        {
            "target": target,
            "form": form,
            "has_token": selectors.api_token_get(user=target) is not None,
            "back_url": back_url,
        },
    )


def _revoke_api_token(request: HttpRequest, target: User, *, back_url: str) -> HttpResponse:
    if services.api_token_revoke(user=target):
        messages.success(request, _("The REST API token was revoked."))
    return redirect(back_url)


@require_http_methods(["GET"])
def account(request: HttpRequest) -> HttpResponse:
    return _user_page(request, signed_in_user(request), own=True)


@never_cache
@require_http_methods(["GET", "POST"])
def account_key(request: HttpRequest) -> HttpResponse:
    return _change_key(request, signed_in_user(request), back_url=reverse("account"))


@require_POST
def account_key_revoke(request: HttpRequest) -> HttpResponse:
    return _revoke_key(request, signed_in_user(request), back_url=reverse("account"))


@never_cache
@require_http_methods(["GET", "POST"])
def account_api_token(request: HttpRequest) -> HttpResponse:
    return _issue_api_token(request, signed_in_user(request), back_url=reverse("account"))


@require_POST
def account_api_token_revoke(request: HttpRequest) -> HttpResponse:
    return _revoke_api_token(request, signed_in_user(request), back_url=reverse("account"))


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET"])
def user_list(request: HttpRequest) -> HttpResponse:
    users = list(selectors.user_list())
    allowed = set(selectors.availability_users().values_list("pk", flat=True))
    rows = [(u, getattr(u, "webservice_key", None), u.pk in allowed) for u in users]
    return render(request, "accounts/user_list.html", {"rows": rows})


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def user_detail(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(get_user_model(), pk=pk)
    if request.method == "POST":
        form = AvailabilityAccessForm(request.POST)
        if form.is_valid():
            services.availability_access_set(user=target, allowed=form.cleaned_data["allowed"])
            messages.success(request, _("Item availability web service access saved."))
        return redirect("user-detail", pk=target.pk)
    return _user_page(request, target, own=target.pk == request.user.pk)


@role_required(INTEGRATION_ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def user_key(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(get_user_model(), pk=pk)
    return _change_key(request, target, back_url=reverse("user-detail", args=[target.pk]))


@role_required(INTEGRATION_ADMIN)
@require_POST
def user_key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(get_user_model(), pk=pk)
    return _revoke_key(request, target, back_url=reverse("user-detail", args=[target.pk]))


@role_required(INTEGRATION_ADMIN)
@never_cache
@require_http_methods(["GET", "POST"])
def user_api_token(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(get_user_model(), pk=pk)
    return _issue_api_token(request, target, back_url=reverse("user-detail", args=[target.pk]))


@role_required(INTEGRATION_ADMIN)
@require_POST
def user_api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    target = get_object_or_404(get_user_model(), pk=pk)
    return _revoke_api_token(request, target, back_url=reverse("user-detail", args=[target.pk]))
