from django.urls import path, register_converter

from availability import views


class AnyPath:
    """Like <path:>, but newlines too: every path below /odata/ gets an OData answer (a 404 as
    an OData error body) instead of Django's HTML page."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyPath, "odata_path")

app_name = "availability"
urlpatterns = [
    path("", views.service_document, name="service"),
    path("$metadata", views.metadata, name="metadata"),
    path("<odata_path:path>", views.resource, name="resource"),
]
