"""A job queue entry for every scheduled integration job that exists: each mapping's (its
PeriodicTask now names the entry in its kwargs, so beat's runs go through it) and the item
availability and auto-create-orders jobs. The CRM pull's and the log cleanup's are made at
their first run (syncjobs.jobqueue.system_entry)."""

import json

from django.db import migrations

JOB_NAME_PREFIX = "erpcrm integration: "
NON_MAPPING = {
    "syncjobs.item_availability": "item_availability",
    "syncjobs.auto_create_sales_orders": "auto_create_orders",
    # Its name once salesorders/ runs it (that app's 0001 renames the scheduled job's task).
    "salesorders.auto_create_sales_orders": "auto_create_orders",
}


def forwards(apps, schema_editor):
    Mapping = apps.get_model("syncjobs", "IntegrationTableMapping")
    Entry = apps.get_model("syncjobs", "JobQueueEntry")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for mapping in Mapping.objects.exclude(periodic_task=None).select_related("periodic_task"):
        if Entry.objects.filter(mapping=mapping, recurring=True).exists():
            continue
        task = mapping.periodic_task
        entry = Entry.objects.create(
            job="mapping",
            mapping=mapping,
            recurring=True,
            description=task.description or f"{mapping.name} - CRM synchronization job",
            max_attempts=10,
            interval_minutes=mapping.interval_minutes,
            current_interval_minutes=mapping.interval_minutes,
            inactivity_timeout_minutes=mapping.inactivity_timeout_minutes,
            periodic_task=task,
        )
        task.kwargs = json.dumps({"entry": entry.pk})
        task.save(update_fields=["kwargs"])
    for task in PeriodicTask.objects.filter(
        name__startswith=JOB_NAME_PREFIX, task__in=list(NON_MAPPING)
    ):
        job = NON_MAPPING[task.task]
        if Entry.objects.filter(job=job, recurring=True, mapping=None).exists():
            continue
        Entry.objects.create(
            job=job,
            recurring=True,
            description=task.description,
            max_attempts=10,
            interval_minutes=30,
            current_interval_minutes=30,
            periodic_task=task,
        )


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for task in PeriodicTask.objects.filter(
        name__startswith=JOB_NAME_PREFIX, task="syncjobs.synchronize_mapping"
    ):
        task.kwargs = "{}"
        task.save(update_fields=["kwargs"])


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0008_job_queue_entries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
