from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConnectionConfig(AppConfig):
    """The CRM connection: its settings, secrets, history and on/off state.

    Everything that needs the CRM (the wizard, the connection page, synchronization, accounts)
    builds on this app; it builds only on the Dataverse client and Django.
    """

    default_auto_field = "django.db.models.BigAutoField"
    name = "connection"
    verbose_name = _("CRM connection")
