from django.apps import AppConfig


class CouplingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "coupling"

    def ready(self) -> None:
        # Forced at startup: erp_pages imports models, which needs the app registry that is
        # being built when this runs.
        from erp import extensions  # noqa: PLC0415

        from . import erp_pages  # noqa: PLC0415

        # The ERP pages know nothing of the integration; the coupling adds itself to them.
        extensions.list_column_register(erp_pages.list_column)
        extensions.card_panel_register(erp_pages.card_panel)
