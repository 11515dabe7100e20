from django.apps import AppConfig


class CouplingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "coupling"
