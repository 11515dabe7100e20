"""REST API of the synchronization setup and its logs, at /api/integration/ (syncjobs/api_urls.py).

- `mappings/`: the integration table mappings (list, read, partial update);
- `field-mappings/`: their field mappings (`?mapping=<id>`; list, read, create, change, delete);
- `jobs/`: the job runs with their counts (`?mapping=`, `?direction=`, `?status=`, `?kind=`),
  read-only, and each run's `errors/` and `changes/`.

Support reads, integration administrators change (accounts.roles.IntegrationApiPermission).
Every change goes through `services`, which validates the mapping as a whole
(`validation.mapping_validate`), as the synchronization page and the admin do.
"""

from collections.abc import Sequence
from typing import Any

from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, mixins, serializers, viewsets

from accounts.roles import IntegrationApiPermission
from erp.api import GuardedApiMixin

from . import services
from .models import (
    IntegrationFieldMapping,
    IntegrationTableMapping,
    JobRun,
    RecordChange,
    SyncError,
)
from .validation import MappingInvalid, MappingProblems, mapping_validate

TAG = "integration"

COUNTS = ("inserted", "modified", "deleted", "unchanged", "skipped", "failed")


def _errors(
    problems: MappingProblems,
    fields: Sequence[IntegrationFieldMapping],
    *,
    own_index: int | None = None,
) -> dict[str, Any]:
    """The problems as DRF error details: the mapping's by its field names; the field mappings'
    under "field_mappings" keyed by id (or at the top, for the one field mapping being
    written: `own_index`)."""
    out: dict[str, Any] = {}
    for name, msgs in problems.errors.items():
        out.setdefault(name or "non_field_errors", []).extend(msgs)
    for index, by_field in problems.field_errors.items():
        if index == own_index:
            for name, msgs in by_field.items():
                out.setdefault(name, []).extend(msgs)
            continue
        key = str(fields[index].pk or "new")
        out.setdefault("field_mappings", {})[key] = by_field
    return out


class JobRunBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = JobRun
        fields = ("id", "status", "direction", "started_at", "finished_at", *COUNTS)


class MappingSerializer(serializers.ModelSerializer):
    field_count = serializers.IntegerField(read_only=True)
    scheduled_job_active = serializers.SerializerMethodField()
    last_run = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = IntegrationTableMapping
        fields = (
            "id",
            "name",
            "erp_table",
            "crm_entity",
            "crm_entity_set",
            "crm_uid_field",
            "crm_uid_type",
            "priority",
            "user_defined",
            "has_scheduled_job",
            "direction",
            "enabled",
            "interval_minutes",
            "table_filter",
            "integration_table_filter",
            "sync_only_coupled",
            "dependency_filter",
            "update_conflict_resolution",
            "deletion_conflict_resolution",
            "synch_after_match_coupling",
            "create_new_if_no_match",
            "scheduled_job_active",
            "field_count",
            "last_run",
            "warnings",
        )
        read_only_fields = (
            "id",
            "name",
            "erp_table",
            "crm_entity",
            "crm_entity_set",
            "crm_uid_field",
            "crm_uid_type",
            "priority",
            "user_defined",
            "has_scheduled_job",
        )

    @extend_schema_field(serializers.BooleanField(allow_null=True))
    def get_scheduled_job_active(self, obj: IntegrationTableMapping) -> bool | None:
        return obj.periodic_task.enabled if obj.periodic_task else None

    @extend_schema_field(JobRunBriefSerializer(allow_null=True))
    def get_last_run(self, obj: IntegrationTableMapping) -> dict[str, Any] | None:
        run_id = getattr(obj, "last_run_id", None)
        run = JobRun.objects.filter(pk=run_id).first() if run_id else None
        return JobRunBriefSerializer(run).data if run else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_warnings(self, obj: IntegrationTableMapping) -> list[str]:
        fields = list(obj.field_mappings.all())
        return mapping_validate(mapping=obj, field_mappings=fields).warnings

    def update(
        self, instance: IntegrationTableMapping, validated_data: dict[str, Any]
    ) -> IntegrationTableMapping:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        fields = list(instance.field_mappings.order_by("position", "id"))
        try:
            services.mapping_update(mapping=instance, field_mappings=fields)
        except MappingInvalid as exc:
            raise serializers.ValidationError(_errors(exc.problems, fields)) from exc
        instance.field_count = len(fields)  # type: ignore[attr-defined]
        return instance


class FieldMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = IntegrationFieldMapping
        fields = (
            "id",
            "mapping",
            "position",
            "status",
            "erp_field",
            "direction",
            "crm_field",
            "constant_value",
            "validate_field",
            "crm_lookup_entity",
            "option_mapping",
            "transformation",
            "value_map",
            "clear_value_on_failed_sync",
            "not_null",
            "use_for_match_based_coupling",
            "case_sensitive_match",
            "match_priority",
        )

    def validate_mapping(self, value: IntegrationTableMapping) -> IntegrationTableMapping:
        if self.instance is not None and value.pk != self.instance.mapping_id:
            raise serializers.ValidationError(
                _("A field mapping cannot move to another mapping; create a new one there.")
            )
        return value

    def _save(self, instance: IntegrationFieldMapping) -> IntegrationFieldMapping:
        mapping = instance.mapping
        others = [fm for fm in mapping.field_mappings.order_by("position", "id")]
        others = [fm for fm in others if fm.pk != instance.pk]
        try:
            services.field_mapping_save(field_mapping=instance)
        except MappingInvalid as exc:
            raise serializers.ValidationError(
                _errors(exc.problems, [*others, instance], own_index=len(others))
            ) from exc
        return instance

    def create(self, validated_data: dict[str, Any]) -> IntegrationFieldMapping:
        return self._save(IntegrationFieldMapping(**validated_data))

    def update(
        self, instance: IntegrationFieldMapping, validated_data: dict[str, Any]
    ) -> IntegrationFieldMapping:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return self._save(instance)


class JobRunSerializer(serializers.ModelSerializer):
    mapping_name = serializers.CharField(source="mapping.name", read_only=True, allow_null=True)

    class Meta:
        model = JobRun
        fields = (
            "id",
            "job_name",
            "kind",
            "direction",
            "full",
            "mapping",
            "mapping_name",
            "started_at",
            "finished_at",
            "status",
            "message",
            *COUNTS,
            "coupled",
            "uncoupled",
            "conflicts",
        )


class SyncErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncError
        fields = (
            "id",
            "job",
            "erp_table",
            "erp_uuid",
            "crm_entity",
            "crm_id",
            "source",
            "destination",
            "message",
            "detail",
            "created_at",
        )


class RecordChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = RecordChange
        fields = (
            "id",
            "job",
            "action",
            "erp_table",
            "erp_uuid",
            "crm_entity",
            "crm_id",
            "record",
            "fields",
            "created_at",
        )


def _tagged(*actions: str) -> Any:
    return extend_schema_view(**{action: extend_schema(tags=[TAG]) for action in actions})


@_tagged("list", "retrieve", "partial_update")
class MappingViewSet(
    GuardedApiMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The integration table mappings: read them; integration administrators change their
    settings (PATCH), validated with their field mappings."""

    serializer_class = MappingSerializer
    permission_classes = (IntegrationApiPermission,)
    http_method_names = ["get", "patch", "head", "options"]
    lookup_value_regex = r"[0-9]+"
    filterset_fields = ("direction", "enabled", "crm_uid_type")
    search_fields = ("name", "erp_table", "crm_entity")
    ordering_fields = ("priority", "name", "id")

    def get_queryset(self) -> QuerySet[IntegrationTableMapping]:
        latest = JobRun.objects.filter(mapping=OuterRef("pk")).order_by("-started_at", "-id")
        return (
            IntegrationTableMapping.objects.select_related("periodic_task")
            .annotate(
                last_run_id=Subquery(latest.values("pk")[:1]),
                field_count=Count("field_mappings", distinct=True),
            )
            .order_by("priority", "name", "pk")
        )


@_tagged("list", "retrieve", "create", "update", "partial_update", "destroy")
class FieldMappingViewSet(GuardedApiMixin, viewsets.ModelViewSet):
    """Field mappings (filter with `?mapping=<id>`). Each change is validated with the rest of
    its mapping; deleting the last enabled field mapping of a direction is refused."""

    serializer_class = FieldMappingSerializer
    permission_classes = (IntegrationApiPermission,)
    lookup_value_regex = r"[0-9]+"
    filterset_fields = ("mapping", "direction", "status")
    search_fields = ("erp_field", "crm_field")
    ordering_fields = ("mapping", "position", "id")

    def get_queryset(self) -> QuerySet[IntegrationFieldMapping]:
        return IntegrationFieldMapping.objects.select_related("mapping").order_by(
            "mapping__priority", "mapping__name", "position", "pk"
        )

    def perform_destroy(self, instance: IntegrationFieldMapping) -> None:
        mapping = instance.mapping
        others = [fm for fm in mapping.field_mappings.order_by("position", "id")]
        others = [fm for fm in others if fm.pk != instance.pk]
        try:
            services.field_mapping_delete(field_mapping=instance)
        except MappingInvalid as exc:
            raise serializers.ValidationError(_errors(exc.problems, others)) from exc


@_tagged("list", "retrieve")
class JobRunViewSet(GuardedApiMixin, viewsets.ReadOnlyModelViewSet):
    """Runs of the integration jobs, newest first, with what each did."""

    serializer_class = JobRunSerializer
    permission_classes = (IntegrationApiPermission,)
    lookup_value_regex = r"[0-9]+"
    filterset_fields = ("mapping", "direction", "status", "kind")
    search_fields = ("job_name",)
    ordering_fields = ("started_at", "finished_at", "id")

    def get_queryset(self) -> QuerySet[JobRun]:
        return JobRun.objects.select_related("mapping").order_by("-started_at", "-id")


JOB_PARAMETER = OpenApiParameter("job_pk", int, OpenApiParameter.PATH, description="Job run id")


class _JobChildList(GuardedApiMixin, generics.ListAPIView):
    permission_classes = (IntegrationApiPermission,)
    filter_backends: tuple = ()

    def _job(self) -> JobRun:
        return get_object_or_404(JobRun, pk=self.kwargs["job_pk"])


@extend_schema(tags=[TAG], parameters=[JOB_PARAMETER])
class JobErrorList(_JobChildList):
    """The records a job run could not synchronize, with why."""

    serializer_class = SyncErrorSerializer

    def get_queryset(self) -> QuerySet[SyncError]:
        return self._job().errors.order_by("-created_at", "-id")


@extend_schema(tags=[TAG], parameters=[JOB_PARAMETER])
class JobChangeList(_JobChildList):
    """What a job run did to each record: the fields it changed, old and new values."""

    serializer_class = RecordChangeSerializer

    def get_queryset(self) -> QuerySet[RecordChange]:
        return self._job().changes.order_by("id")
