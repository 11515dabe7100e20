"""REST API of the full synchronization, at /api/integration/full-sync/: the current run
(the running one, else the latest) with its lines and their progress. Support and
integration administrators read it (accounts.roles.IntegrationApiPermission)."""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import IntegrationApiPermission
from erp.api import GuardedApiMixin

from . import fullsync, fullsync_samples
from .models import Direction, FullSyncLine, FullSyncRun, JobRun, Recommendation


class FullSyncJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=JobRun.Status.choices)
    status_label = serializers.CharField()
    url = serializers.CharField(help_text="The job run's page (its log and errors).")
    inserted = serializers.IntegerField()
    modified = serializers.IntegerField()
    deleted = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    coupled = serializers.IntegerField()
    conflicts = serializers.IntegerField()
    message = serializers.CharField()


class FullSyncLineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    mapping = serializers.IntegerField(allow_null=True)
    dependency_filter = serializers.CharField()
    direction = serializers.ChoiceField(choices=Direction.choices)
    direction_label = serializers.CharField()
    erp_count = serializers.IntegerField(allow_null=True)
    crm_count = serializers.IntegerField(allow_null=True)
    crm_count_capped = serializers.BooleanField()
    count_error = serializers.CharField()
    recommendation = serializers.ChoiceField(choices=Recommendation.choices, allow_blank=True)
    recommendation_label = serializers.CharField()
    status = serializers.ChoiceField(choices=FullSyncLine.Status.choices, allow_blank=True)
    status_label = serializers.CharField()
    message = serializers.CharField()
    attempts = serializers.IntegerField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    done = serializers.IntegerField(help_text="Records processed so far.")
    total = serializers.IntegerField(allow_null=True, help_text="Records in scope, if known.")
    percent = serializers.IntegerField(allow_null=True)
    rate = serializers.FloatField(allow_null=True, help_text="Records per second.")
    seconds_left = serializers.IntegerField(allow_null=True)
    chunks_done = serializers.IntegerField(
        allow_null=True, help_text="A large table sent in chunks: the chunks done (else null)."
    )
    chunks_total = serializers.IntegerField(
        allow_null=True, help_text="A large table sent in chunks: its chunks (else null)."
    )
    to_crm_job = FullSyncJobSerializer(allow_null=True)
    from_crm_job = FullSyncJobSerializer(allow_null=True)


class FullSyncRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=FullSyncRun.Status.choices)
    status_label = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    started_by = serializers.CharField(allow_null=True)


class FullSyncSampleSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    done = serializers.IntegerField(help_text="Records the run had done by then.")
    rate = serializers.FloatField(help_text="Records per second since the previous sample.")


class FullSyncStatusSerializer(serializers.Serializer):
    run = FullSyncRunSerializer(allow_null=True)
    lines = FullSyncLineSerializer(many=True)
    done = serializers.IntegerField()
    total = serializers.IntegerField(allow_null=True)
    percent = serializers.IntegerField(allow_null=True)
    samples = FullSyncSampleSerializer(
        many=True,
        help_text="Records per second over the run (the review page's chart): from its start "
        "(nothing done) to now or its end; thinned to at most 60 points on a long run.",
    )


class FullSyncStatusView(GuardedApiMixin, APIView):
    """The current full synchronization: the running one, else the latest; `run` is null when
    none was ever prepared."""

    permission_classes = (IntegrationApiPermission,)

    @extend_schema(tags=["integration"], responses=FullSyncStatusSerializer)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        run = fullsync.fullsync_current()
        data = fullsync.fullsync_status(run=run)
        data["samples"] = (
            [
                {"at": p.at, "done": p.done, "rate": round(p.rate, 2)}
                for p in fullsync_samples.rate_points(run=run, done=data["done"])
            ]
            if run is not None
            else []
        )
        return Response(FullSyncStatusSerializer(data).data)
