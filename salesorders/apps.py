from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesOrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "salesorders"
    verbose_name = _("Sales order integration")

    def ready(self) -> None:
        # Forced at startup: pull imports models, which needs the app registry being built.
        from syncjobs import jobqueue  # noqa: PLC0415
        from syncjobs.defaults import AUTO_CREATE_ORDERS_JOB  # noqa: PLC0415
        from syncjobs.models import JobQueueEntry  # noqa: PLC0415

        from . import pull  # noqa: PLC0415

        # The job queue runs, pauses and holds this app's jobs like its own.
        jobqueue.job_runner_register(
            JobQueueEntry.Job.AUTO_CREATE_SALES_ORDERS,
            lambda: pull.auto_create_run(job_name=AUTO_CREATE_ORDERS_JOB.name),
        )
