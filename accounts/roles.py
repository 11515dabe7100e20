"""Roles are Django groups. Every page and API call names the roles it admits.

- Integration administrators: setup, connection, mappings, full synchronization; everything
  salespeople and support can do.
- Salespeople: ERP records (view, create, edit) and coupling.
- Support: read-only access to ERP records, synchronization review and logs.
"""

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.permissions import SAFE_METHODS, BasePermission

INTEGRATION_ADMIN = "Integration administrators"
SALESPERSON = "Salespeople"
SUPPORT = "Support"
ALL_ROLES = (INTEGRATION_ADMIN, SALESPERSON, SUPPORT)

# Who may read ERP records, and who may change them.
ERP_READERS = (INTEGRATION_ADMIN, SALESPERSON, SUPPORT)
ERP_WRITERS = (INTEGRATION_ADMIN, SALESPERSON)
# Who may read the synchronization setup and its logs; only integration administrators change it.
INTEGRATION_READERS = (INTEGRATION_ADMIN, SUPPORT)

# The user's roles are cached on the user object (like Django's permission caches).
_ROLES_CACHE = "_erpcrm_roles"


def user_roles(user: User | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return set(ALL_ROLES)
    cached: set[str] | None = getattr(user, _ROLES_CACHE, None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) & set(ALL_ROLES)
        setattr(user, _ROLES_CACHE, cached)
    return cached


def signed_in_user(request: HttpRequest) -> User:
    """The request's user on a page that requires login (core.middleware.LoginRequiredMiddleware
    sends anonymous visitors to the login page before any such view runs)."""
    user = request.user
    if not user.is_authenticated:
        raise PermissionDenied
    return user


def has_role(user: User | AnonymousUser, roles: Iterable[str]) -> bool:
    return bool(user_roles(user) & set(roles))


# Views return any response (pages, redirects, files): typed as HttpResponseBase so the
# decorator also fits method_decorator on class-based views.
View = Callable[..., HttpResponseBase]


def role_required(*roles: str) -> Callable[[View], View]:
    """View decorator: 403 unless the user holds one of `roles` (login is enforced globally)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not has_role(request.user, roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class ErpApiPermission(BasePermission):
    """REST API: readers may GET, writers may change."""

    def has_permission(self, request: Any, view: Any) -> bool:
        allowed = ERP_READERS if request.method in SAFE_METHODS else ERP_WRITERS
        return has_role(request.user, allowed)


class IsIntegrationAdmin(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return has_role(request.user, (INTEGRATION_ADMIN,))


class IntegrationApiPermission(BasePermission):
    """REST API of the synchronization setup and logs: support reads, administrators change."""

    def has_permission(self, request: Any, view: Any) -> bool:
        allowed = INTEGRATION_READERS if request.method in SAFE_METHODS else (INTEGRATION_ADMIN,)
        return has_role(request.user, allowed)
