"""URLconf of the synchronization setup's REST API, included at /api/integration/."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api, fullsync_api, jobqueue_api

router = SimpleRouter()
router.register("mappings", api.MappingViewSet, basename="api-integration-mappings")
router.register("field-mappings", api.FieldMappingViewSet, basename="api-integration-fields")
router.register("jobs", api.JobRunViewSet, basename="api-integration-jobs")
router.register(
    "job-queue", jobqueue_api.JobQueueEntryViewSet, basename="api-integration-job-queue"
)

urlpatterns = [
    path("full-sync/", fullsync_api.FullSyncStatusView.as_view(), name="api-integration-fullsync"),
    path("jobs/<int:job_pk>/errors/", api.JobErrorList.as_view(), name="api-integration-errors"),
    path("jobs/<int:job_pk>/changes/", api.JobChangeList.as_view(), name="api-integration-changes"),
    *router.urls,
]
