from typing import Any

from django.http import HttpRequest

from accounts import roles


def roles_context(request: HttpRequest) -> dict[str, Any]:
    user_roles = roles.user_roles(request.user)
    return {
        "user_roles": user_roles,
        "is_integration_admin": roles.INTEGRATION_ADMIN in user_roles,
        "is_salesperson": roles.SALESPERSON in user_roles,
        "is_support": roles.SUPPORT in user_roles,
        "can_edit_erp": bool(user_roles & set(roles.ERP_WRITERS)),
    }
