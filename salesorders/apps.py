from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesOrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "salesorders"
    verbose_name = _("Sales order integration")

    def ready(self) -> None:
        # Forced at startup: erp_pages imports models, which needs the app registry that is
        # being built when this runs (as coupling/apps.py does).
        from erp import extensions  # noqa: PLC0415

        from . import erp_pages  # noqa: PLC0415

        # The ERP's customer card knows nothing of the integration; the panel adds itself.
        extensions.card_panel_register(erp_pages.card_panel)
