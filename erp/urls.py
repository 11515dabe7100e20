from django.urls import path

from erp import document_views, views
from erp.tables import POSTED_SALES_INVOICES, SALES_ORDERS, TABLES

app_name = "erp"

# One set of generic views per registered table; the table travels as a view argument.
urlpatterns = []
for _table in TABLES:
    _kwargs = {"table": _table}
    _slug = _table.slug
    urlpatterns += [
        path(f"{_slug}/", views.record_list, _kwargs, name=f"{_slug}-list"),
        path(f"{_slug}/new/", views.record_create, _kwargs, name=f"{_slug}-create"),
        path(f"{_slug}/<int:pk>/", views.record_detail, _kwargs, name=f"{_slug}-detail"),
        path(f"{_slug}/<int:pk>/edit/", views.record_edit, _kwargs, name=f"{_slug}-edit"),
        path(f"{_slug}/<int:pk>/delete/", views.record_delete, _kwargs, name=f"{_slug}-delete"),
    ]

# Sales documents: generic lists, cards and actions of their own.
_orders = "sales-orders"
_invoices = "posted-sales-invoices"
urlpatterns += [
    path(f"{_orders}/", views.record_list, {"table": SALES_ORDERS}, name=f"{_orders}-list"),
    path(f"{_orders}/new/", document_views.sales_order_create, name=f"{_orders}-create"),
    path(f"{_orders}/<int:pk>/", document_views.sales_order_detail, name=f"{_orders}-detail"),
    path(f"{_orders}/<int:pk>/edit/", document_views.sales_order_edit, name=f"{_orders}-edit"),
    path(
        f"{_orders}/<int:pk>/delete/", document_views.sales_order_delete, name=f"{_orders}-delete"
    ),
    path(
        f"{_orders}/<int:pk>/lines/new/",
        document_views.sales_order_line_add,
        name=f"{_orders}-line-add",
    ),
    path(
        f"{_orders}/<int:pk>/lines/<int:line_pk>/edit/",
        document_views.sales_order_line_edit,
        name=f"{_orders}-line-edit",
    ),
    path(
        f"{_orders}/<int:pk>/lines/<int:line_pk>/delete/",
        document_views.sales_order_line_delete,
        name=f"{_orders}-line-delete",
    ),
    *(
        path(
            f"{_orders}/<int:pk>/{action}/",
            document_views.sales_order_action,
            {"action": action},
            name=f"{_orders}-{action}",
        )
        for action in ("release", "reopen", "ship", "invoice")
    ),
    path(
        f"{_invoices}/",
        views.record_list,
        {"table": POSTED_SALES_INVOICES},
        name=f"{_invoices}-list",
    ),
    path(
        f"{_invoices}/<int:pk>/",
        document_views.posted_sales_invoice_detail,
        name=f"{_invoices}-detail",
    ),
]
