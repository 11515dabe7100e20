from django.urls import URLPattern, URLResolver, path

from . import statistics_views, views

app_name = "salesorders"

urlpatterns: list[URLPattern | URLResolver] = [
    # CRM orders to ERP orders (the pull)
    path("crm/", views.crm_orders, name="crm-orders"),
    path("crm/create/", views.crm_order_create, name="crm-order-create"),
    path("crm/create-selected/", views.crm_orders_create, name="crm-orders-create"),
    path("setup/", views.setup, name="setup"),
    # The customer card's "Update account statistics" (the push)
    path(
        "customers/<uuid:erp_uuid>/statistics/",
        statistics_views.customer_statistics_update,
        name="customer_statistics",
    ),
]
