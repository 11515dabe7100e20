from django.apps import AppConfig


class DataverseConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "dataverse"
