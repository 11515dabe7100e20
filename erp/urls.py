from django.urls import path

from erp import views
from erp.tables import TABLES

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
