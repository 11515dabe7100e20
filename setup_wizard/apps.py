from django.apps import AppConfig


class SetupWizardConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "setup_wizard"
