from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "syncjobs"

    def ready(self) -> None:
        # The near-real-time synchronization listens to the ERP's writes; the ERP sends its
        # signals without knowing who listens (docs/architecture.md).
        from . import fullsync_samples, nrt  # noqa: PLC0415 - models need the apps ready

        nrt.connect()
        # The review page's chart samples a full synchronization as the engine saves its jobs.
        fullsync_samples.connect()
        # Connects the worker's start hook (a sweep of the running full synchronization).
        from . import worker  # noqa: F401, PLC0415
