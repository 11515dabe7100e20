from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "salesorders"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "customers/<uuid:erp_uuid>/statistics/",
        views.customer_statistics_update,
        name="customer_statistics",
    ),
]
