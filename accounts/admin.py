from django.contrib import admin

from accounts.models import ApiToken, FailedAttempt, WebServiceKey


@admin.register(WebServiceKey)
class WebServiceKeyAdmin(admin.ModelAdmin):
    # Keys are made on the user pages or with `manage.py webservice_key`; the hash is no use here.
    list_display = ("user", "prefix", "created_at", "expires_at", "last_used_at")
    fields = ("user", "prefix", "created_at", "expires_at", "last_used_at")
    readonly_fields = fields
    search_fields = ("user__username", "prefix")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    # Tokens are issued on the user pages or with `manage.py api_token`; only their hash is
    # stored, and it is no use here. Deleting a token here revokes it.
    list_display = ("user", "prefix", "created_at", "expires_at", "last_used_at")
    fields = ("user", "prefix", "created_at", "expires_at", "last_used_at")
    readonly_fields = fields
    search_fields = ("user__username", "prefix")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(FailedAttempt)
class FailedAttemptAdmin(admin.ModelAdmin):
    list_display = ("service", "address", "username", "created_at")
    list_filter = ("service",)
    readonly_fields = ("service", "address", "username", "created_at")

    def has_add_permission(self, request: object) -> bool:
        return False
