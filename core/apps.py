from django.apps import AppConfig


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"

    def ready(self) -> None:
        # Connects the worker_ready hook; importing it needs the app registry.
        from core import worker  # noqa: F401
