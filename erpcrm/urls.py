from django.contrib import admin
from django.urls import include, path

from syncjobs.metrics import metrics_view

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", include("core.health_urls")),
    path("metrics", metrics_view, name="metrics"),
    path("api/integration/", include("syncjobs.api_urls")),
    path("api/", include("erp.api_urls")),
    path("odata/", include("availability.urls")),
    path("", include("core.urls")),
    path("", include("accounts.urls")),
    path("erp/", include("erp.urls")),
    path("setup/", include("setup_wizard.urls")),
    path("connection/", include("setup_wizard.connection_urls")),
    path("coupling/", include("coupling.urls")),
    path("sync/", include("syncjobs.urls")),
    path("salesorders/", include("salesorders.urls")),
    path("admin/", admin.site.urls),
]
