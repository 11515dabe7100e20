from django.urls import path, re_path

from . import connection_views, views

app_name = "setup_wizard"
urlpatterns = [
    path("", views.setup_wizard, name="start"),
    path("connection/", connection_views.connection_page, name="connection"),
    path(
        "connection/reset-defaults/",
        connection_views.connection_reset_defaults,
        name="reset-defaults",
    ),
    path("complete/", views.setup_complete, name="complete"),
    re_path(r"^(?P<step>[a-z-]+)/$", views.setup_wizard, name="step"),
]
