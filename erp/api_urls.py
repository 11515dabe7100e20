"""URLconf of the REST API, included at /api/: one route per ERP table, schema and docs.

Token: `python manage.py api_token <username>` (or the user's page), then send
`Authorization: Token <key>`.
"""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from erp.api import VIEWSETS, RecordViewSet
from erp.document_api import DOCUMENT_VIEWSETS

router = DefaultRouter()
for slug, viewset in {**VIEWSETS, **DOCUMENT_VIEWSETS}.items():
    router.register(slug, viewset, basename=f"api-{slug}")

# The schema and its documentation page are for signed-in users like the tables they describe.
_access = {
    "authentication_classes": RecordViewSet.authentication_classes,
    "permission_classes": RecordViewSet.permission_classes,
}

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(**_access), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="api-schema", **_access),
        name="api-docs",
    ),
    *router.urls,
]
