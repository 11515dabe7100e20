from django.apps import AppConfig


class SyncjobsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "syncjobs"
