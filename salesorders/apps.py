from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesOrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "salesorders"
    verbose_name = _("Sales order integration")

    def ready(self) -> None:
        # Forced at startup: pull and erp_pages import models, which needs the app registry
        # that is being built when this runs (as coupling/apps.py does).
        from erp import extensions  # noqa: PLC0415
        from syncjobs import jobqueue  # noqa: PLC0415
        from syncjobs.models import JobQueueEntry  # noqa: PLC0415

        from . import erp_pages, jobs  # noqa: PLC0415

        # The job queue runs, pauses and holds this app's jobs like its own.
        jobqueue.job_runner_register(
            JobQueueEntry.Job.AUTO_CREATE_SALES_ORDERS, jobs.auto_create_run
        )
        jobqueue.job_runner_register(JobQueueEntry.Job.ORDER_STATUS, jobs.order_status_run)
        jobqueue.job_runner_register(
            JobQueueEntry.Job.CUSTOMER_STATISTICS, jobs.customer_statistics_run
        )
        # The ERP's customer card knows nothing of the integration; the panel adds itself.
        extensions.card_panel_register(erp_pages.card_panel)
