"""REST API of the job queue entries, at /api/integration/job-queue/: list (`?status=`,
`?mapping=`, `?job=`, `?recurring=`), read, and the page's actions as POSTs on an entry:
`pause/`, `resume/`, `run/` (run now) and `hold/` (`{"reason": "..."}`). Support staff and
integration administrators read and act, as on /sync/jobs/."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import INTEGRATION_READERS, has_role
from erp.api import GuardedApiMixin

from . import jobqueue
from .models import JobQueueEntry
from .templatetags.sync_ui import entry_label

TAG = "integration"


class JobQueuePermission(BasePermission):
    """Support staff watch and control the job queue as integration administrators do."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return has_role(request.user, INTEGRATION_READERS)


class JobQueueEntrySerializer(serializers.ModelSerializer):
    label = serializers.SerializerMethodField(help_text="What the entry runs, translated.")
    mapping_name = serializers.CharField(source="mapping.name", allow_null=True, default=None)
    status_label = serializers.CharField(source="get_status_display")

    class Meta:
        model = JobQueueEntry
        fields = (
            "id", "job", "label", "mapping", "mapping_name", "recurring", "full", "description",
            "status", "status_label", "attempts", "max_attempts", "earliest_start_at",
            "last_error", "interval_minutes", "current_interval_minutes",
            "inactivity_timeout_minutes", "last_started_at", "last_finished_at", "next_run_at",
            "hold", "on_hold_reason", "created_at",
        )  # fmt: skip
        read_only_fields = fields

    def get_label(self, obj: JobQueueEntry) -> str:
        return entry_label(obj)


class HoldInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


@extend_schema_view(
    list=extend_schema(tags=[TAG]),
    retrieve=extend_schema(tags=[TAG]),
)
class JobQueueEntryViewSet(
    GuardedApiMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Job queue entries: every recurring and one-off integration job with its state."""

    serializer_class = JobQueueEntrySerializer
    permission_classes = (JobQueuePermission,)
    lookup_value_regex = r"[0-9]+"
    filterset_fields = ("status", "mapping", "job", "recurring")
    search_fields = ("description", "mapping__name")
    ordering_fields = ("id", "created_at", "next_run_at", "last_started_at")

    def get_queryset(self) -> QuerySet[JobQueueEntry]:
        return jobqueue.entry_list()

    def _act(self, request: Request, run: Any) -> Response:
        entry = self.get_object()
        try:
            run(entry, request.user.get_username())
        except jobqueue.EntryActionRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        entry = self.get_queryset().get(pk=entry.pk)
        return Response(self.get_serializer(entry).data)

    @extend_schema(tags=[TAG], request=None, responses=JobQueueEntrySerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Pause the entry (on hold, "paused by <user>") until it is resumed."""
        return self._act(request, lambda e, user: jobqueue.entry_pause(entry=e, by=user))

    @extend_schema(tags=[TAG], request=None, responses=JobQueueEntrySerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Resume an entry on hold or in error."""
        return self._act(request, lambda e, user: jobqueue.entry_resume(entry=e))

    @extend_schema(tags=[TAG], request=None, responses=JobQueueEntrySerializer)
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Run the entry's job now (a one-off entry for a recurring one)."""
        return self._act(request, lambda e, user: jobqueue.entry_run_now(entry=e))

    @extend_schema(tags=[TAG], request=HoldInputSerializer, responses=JobQueueEntrySerializer)
    @action(detail=True, methods=["post"])
    def hold(self, request: Request, pk: str | None = None) -> Response:
        """Put the entry on hold with a reason."""
        data = HoldInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reason = data.validated_data["reason"]
        return self._act(
            request, lambda e, user: jobqueue.entry_hold(entry=e, reason=reason, by=user)
        )
