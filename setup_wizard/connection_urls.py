"""The connection page also answers at the top-level /connection/."""

from django.urls import path

from . import views

urlpatterns = [path("", views.connection_page, name="connection")]
