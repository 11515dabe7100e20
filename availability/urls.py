from django.urls import path

from availability import views

app_name = "availability"
urlpatterns = [
    path("", views.service_document, name="service"),
    path("$metadata", views.metadata, name="metadata"),
    path("<path:path>", views.resource, name="resource"),
]
