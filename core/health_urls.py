from django.urls import path

from core import views

urlpatterns = [path("", views.healthz, name="healthz")]
