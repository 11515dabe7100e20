from django.urls import path  # noqa: F401

app_name = "setup_wizard"
urlpatterns: list = []
