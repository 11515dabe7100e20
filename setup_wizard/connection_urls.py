"""The connection page also answers at the top-level /connection/."""

from django.urls import path

from . import connection_views

urlpatterns = [path("", connection_views.connection_page, name="connection")]
