"""REST API for the twelve ERP tables: `/api/<slug>/` (see erp/api_urls.py).

One serializer and one viewset per table, generated from the table registry (`erp.tables`) so
that the API, the list pages and the filters agree on what a table is. Writes go through
`erp.services`, which validate with the model's `full_clean`.
"""

import logging
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DataError, models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import APIException
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from accounts.authentication import ApiTokenAuthentication
from accounts.roles import ErpApiPermission
from erp import services
from erp.filters import FILTERSETS
from erp.models import SyncedModel
from erp.query_input import query_value_problem
from erp.tables import BIG_TABLES, TABLES, Table, key_field

logger = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000


class RecordPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE


class RecordInUseError(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The record is in use.")
    default_code = "record_in_use"


class ValueRefused(APIException):
    """A value the database itself refused (out of its range, not storable): the caller's
    input, so a 400 rather than a 500."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = _("A value is out of the range the database can store or compare.")
    default_code = "value_refused"


class KeyRelatedField(serializers.SlugRelatedField):
    def to_internal_value(self, data: Any) -> Any:
        # The key becomes a database lookup: PostgreSQL refuses NUL in it (a 500 otherwise).
        if isinstance(data, str):
            problem = query_value_problem(value=data)
            if problem is not None:
                raise serializers.ValidationError(problem, code="invalid")
        return super().to_internal_value(data)


class RecordSerializer(serializers.ModelSerializer):
    """Foreign keys are read and written as the related record's code or number."""

    def build_relational_field(
        self, field_name: str, relation_info: Any
    ) -> tuple[type[serializers.Field], dict[str, Any]]:
        field_class, kwargs = super().build_relational_field(field_name, relation_info)
        if relation_info.to_many:
            return field_class, kwargs
        kwargs["slug_field"] = key_field(relation_info.related_model)
        if relation_info.related_model in BIG_TABLES:
            # The browsable API's form would render up to 1,000 options per field; the number
            # is typed instead, as on the list pages.
            kwargs["style"] = {"base_template": "input.html"}
        return KeyRelatedField, kwargs

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # uuid is read-only; a client that sends a different one must hear that it was refused
        # rather than have it silently ignored.
        # A serializer nested in another has no initial data of its own.
        initial = getattr(self, "initial_data", None)
        sent = initial.get("uuid") if isinstance(initial, dict) else None
        if sent and self.instance is not None and str(sent) != str(self.instance.uuid):
            raise serializers.ValidationError(
                {"uuid": _("The UUID of a record cannot be changed.")}
            )
        return attrs

    def create(self, validated_data: dict[str, Any]) -> models.Model:
        try:
            return services.record_create(model=self.Meta.model, data=validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(as_serializer_error(exc)) from exc

    def update(self, instance: SyncedModel, validated_data: dict[str, Any]) -> SyncedModel:
        try:
            return services.record_update(instance=instance, data=validated_data)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(as_serializer_error(exc)) from exc


def serializer_for(table: Table) -> type[RecordSerializer]:
    meta = type(
        "Meta",
        (),
        {
            "model": table.model,
            "fields": "__all__",
            "read_only_fields": ("id", "uuid", "modified_at"),
        },
    )
    return type(f"{table.model.__name__}Serializer", (RecordSerializer,), {"Meta": meta})


class GuardedApiMixin:
    """What every viewset of the API shares: token then session authentication, pages of
    records, and query values checked before they reach the database."""

    # Token first, so that an anonymous caller gets 401 with a WWW-Authenticate header.
    authentication_classes = (ApiTokenAuthentication, SessionAuthentication)
    pagination_class = RecordPagination

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authentication first
        problems: dict[str, list[str]] = {}
        for name, values in request.query_params.lists():
            found = [p for p in (query_value_problem(value=v) for v in values) if p is not None]
            if found:
                problems[name] = found[:1]
        if problems:
            raise serializers.ValidationError(problems)

    def handle_exception(self, exc: Exception) -> Response:
        # The checks above and in the fields keep hostile values away from the database; should
        # one still get through, the caller hears 400 and the log keeps the cause.
        if isinstance(exc, DataError | OverflowError):
            logger.warning("Database refused a value from the API: %s", exc)
            exc = ValueRefused()
        return super().handle_exception(exc)  # type: ignore[misc]


class RecordViewSet(GuardedApiMixin, viewsets.ModelViewSet):
    """List, read, create, change and delete records of one ERP table."""

    table: Table
    permission_classes = (ErpApiPermission,)
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> models.QuerySet:
        model = self.table.model
        fks = [f.name for f in model._meta.fields if isinstance(f, models.ForeignKey)]
        return model.objects.select_related(*fks).order_by(*(model._meta.ordering or ()), "pk")

    def perform_destroy(self, instance: models.Model) -> None:
        try:
            services.record_delete(instance=instance)
        except services.RecordInUse as exc:
            raise RecordInUseError(exc.message) from exc


def ordering_fields_for(table: Table) -> list[str]:
    names = ["id", "modified_at"]
    for fld in table.model._meta.fields:
        if isinstance(fld, models.ForeignKey):
            names.append(f"{fld.name}__{key_field(fld.related_model)}")
        elif fld.name not in names and fld.name != "uuid":
            names.append(fld.name)
    return names


def viewset_for(table: Table) -> type[RecordViewSet]:
    plural = str(table.model._meta.verbose_name_plural)
    viewset = type(
        f"{table.model.__name__}ViewSet",
        (RecordViewSet,),
        {
            "table": table,
            "serializer_class": serializer_for(table),
            "filterset_class": FILTERSETS[table.slug],
            "search_fields": list(table.search_fields),
            "ordering_fields": ordering_fields_for(table),
            "__doc__": f"The ERP table of {plural}.",
        },
    )
    return extend_schema_view(
        list=extend_schema(tags=[table.slug]),
        retrieve=extend_schema(tags=[table.slug]),
        create=extend_schema(tags=[table.slug]),
        update=extend_schema(tags=[table.slug]),
        partial_update=extend_schema(tags=[table.slug]),
        destroy=extend_schema(tags=[table.slug]),
    )(viewset)


VIEWSETS: dict[str, type[RecordViewSet]] = {t.slug: viewset_for(t) for t in TABLES}
