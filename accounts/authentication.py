"""REST API authentication with the project's hashed, expiring tokens (`accounts.ApiToken`).

The header stays DRF's (`Authorization: Token <key>`), so clients written for DRF's authtoken
keep working; only the storage changed.
"""

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from accounts import selectors, services
from accounts.models import ApiToken


class ApiTokenAuthentication(TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = selectors.api_token_find(key=key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if selectors.api_token_expired(token=token):
            raise AuthenticationFailed(_("The token has expired. Ask for a new one."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        services.api_token_mark_used(token=token)
        return token.user, token
