from django.apps import AppConfig

from core.supervision import die_with_parent_if_supervised


class CoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "core"

    def ready(self) -> None:
        die_with_parent_if_supervised()
        # Forced at startup: core.worker connects Celery's worker_ready hook and imports models,
        # which needs the app registry that is being built when this runs.
        from core import worker  # noqa: F401, PLC0415
