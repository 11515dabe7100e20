from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SalesOrdersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "salesorders"
    verbose_name = _("Sales order integration")
