"""The CRM connection (one row) and the history of changes to it.

Secrets (client secret, the item availability web service key) are stored encrypted with
connection.crypto; the model offers typed accessors so plaintext never sits in a model field.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import crypto


class OwnerMode(models.TextChoices):
    SALESPERSON = "salesperson", _("The salesperson's coupled CRM user")
    DEFAULT_OWNER = "default", _("A default owner")


class CrmConnection(models.Model):
    """The single CRM connection of this installation (primary key 1)."""

    SINGLETON_ID = 1

    environment_url = models.URLField(_("environment URL"), max_length=300)
    token_url = models.URLField(_("token URL"), max_length=500)
    client_id = models.CharField(_("client id"), max_length=100)
    client_secret_encrypted = models.TextField(
        _("client secret (encrypted)"), blank=True, editable=False
    )

    integration_user_id = models.UUIDField(_("integration user id"), null=True, blank=True)
    integration_user_name = models.CharField(_("integration user"), max_length=200, blank=True)
    organization_id = models.UUIDField(_("organization id"), null=True, blank=True)
    crm_base_currency = models.CharField(_("CRM base currency"), max_length=5, blank=True)

    solution_imported = models.BooleanField(_("integration solution imported"), default=False)
    solution_imported_at = models.DateTimeField(_("solution imported at"), null=True, blank=True)
    roles_assigned = models.BooleanField(_("integration roles assigned"), default=False)

    sync_areas = models.JSONField(_("areas to synchronize"), default=list, blank=True)
    owner_mode = models.CharField(
        _("owner of new CRM records"),
        max_length=20,
        choices=OwnerMode.choices,
        default=OwnerMode.SALESPERSON,
    )
    default_owner_id = models.UUIDField(_("default owner id"), null=True, blank=True)
    default_owner_name = models.CharField(_("default owner"), max_length=200, blank=True)

    availability_enabled = models.BooleanField(
        _("item availability web service published"), default=False
    )
    availability_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("item availability web service user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    availability_key_encrypted = models.TextField(
        _("web service access key (encrypted)"), blank=True, editable=False
    )
    availability_service_url = models.URLField(
        _("item availability service URL"), max_length=300, blank=True
    )

    sales_order_integration = models.BooleanField(_("sales order integration"), default=False)
    order_processor_id = models.UUIDField(
        _("CRM user processing orders (id)"), null=True, blank=True
    )
    order_processor_name = models.CharField(
        _("CRM user processing orders"), max_length=200, blank=True
    )
    auto_create_sales_orders = models.BooleanField(
        _("automatically create sales orders"), default=False
    )

    is_enabled = models.BooleanField(_("integration enabled"), default=False)
    disable_reason = models.TextField(_("disable reason"), blank=True)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    crm_record_written_at = models.DateTimeField(
        _("CRM connection record written at"), null=True, blank=True
    )
    # The enabled CRM users, read when the connection is saved or on "Refresh", so that showing
    # the connection page (owner and order processor choices) never waits on the CRM.
    crm_users = models.JSONField(_("CRM users"), default=list, blank=True, editable=False)
    crm_users_read_at = models.DateTimeField(_("CRM users read at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("CRM connection")
        verbose_name_plural = _("CRM connections")

    def __str__(self) -> str:
        return self.environment_url

    @property
    def client_secret(self) -> str:
        return crypto.decrypt(self.client_secret_encrypted)

    @client_secret.setter
    def client_secret(self, value: str) -> None:
        self.client_secret_encrypted = crypto.encrypt(value)

    @property
    def availability_key(self) -> str:
        return crypto.decrypt(self.availability_key_encrypted)

    @availability_key.setter
    def availability_key(self, value: str) -> None:
        self.availability_key_encrypted = crypto.encrypt(value)

    @property
    def has_client_secret(self) -> bool:
        return bool(self.client_secret_encrypted)

    @property
    def has_availability_key(self) -> bool:
        return bool(self.availability_key_encrypted)


# (model field, label) of every setting recorded in the history; secrets only as "changed".
TRACKED_FIELDS = [
    ("environment_url", _("environment URL")),
    ("token_url", _("token URL")),
    ("client_id", _("client id")),
    ("integration_user_name", _("integration user")),
    ("crm_base_currency", _("CRM base currency")),
    ("solution_imported", _("integration solution imported")),
    ("roles_assigned", _("integration roles assigned")),
    ("sync_areas", _("areas to synchronize")),
    ("owner_mode", _("owner of new CRM records")),
    ("default_owner_name", _("default owner")),
    ("availability_enabled", _("item availability web service published")),
    ("availability_user", _("item availability web service user")),
    ("availability_service_url", _("item availability service URL")),
    ("sales_order_integration", _("sales order integration")),
    ("order_processor_name", _("CRM user processing orders")),
    ("auto_create_sales_orders", _("automatically create sales orders")),
    ("is_enabled", _("integration enabled")),
    ("disable_reason", _("disable reason")),
]
SECRET_FIELDS = [
    ("client_secret", _("client secret")),
    ("availability_key", _("web service access key")),
]
FIELD_LABELS = {
    **dict(TRACKED_FIELDS),
    **dict(SECRET_FIELDS),
    "synchronization_setup": _("synchronization setup"),
}


class ConnectionChange(models.Model):
    """Who changed which connection setting, when. Secrets are recorded only as "changed"."""

    class Source(models.TextChoices):
        WIZARD = "wizard", _("Assisted setup")
        PAGE = "page", _("Connection page")
        COMMAND = "command", _("setup_connection command")
        SYSTEM = "system", _("System")

    changed_at = models.DateTimeField(_("changed at"), auto_now_add=True, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    field = models.CharField(_("setting"), max_length=100)
    old_value = models.TextField(_("old value"), blank=True)
    new_value = models.TextField(_("new value"), blank=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        verbose_name = _("connection change")
        verbose_name_plural = _("connection changes")

    def __str__(self) -> str:
        return f"{self.field} @ {self.changed_at:%Y-%m-%d %H:%M}"

    @property
    def field_label(self) -> str:
        return str(FIELD_LABELS.get(self.field, self.field))
