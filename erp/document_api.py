"""REST API of the sales documents: `/api/sales-orders/` with its actions (release, reopen,
ship, invoice), `/api/sales-order-lines/`, and the read-only `/api/posted-sales-invoices/` and
`/api/posted-sales-invoice-lines/`.

Related records are read and written by their no. or code, as in the rest of the API
(erp.api.RecordSerializer); every write goes through erp.documents, whose refusals become 400s
with the same message the pages show.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from accounts.roles import ErpApiPermission
from erp import documents
from erp.api import GuardedApiMixin, RecordSerializer, ordering_fields_for
from erp.filters import filterset_for
from erp.models import (
    PostedSalesInvoice,
    PostedSalesInvoiceLine,
    SalesOrder,
    SalesOrderLine,
    SyncedModel,
)
from erp.tables import (
    POSTED_SALES_INVOICE_LINES,
    POSTED_SALES_INVOICES,
    SALES_ORDER_LINES,
    SALES_ORDERS,
    Table,
)

READ_ONLY = ("id", "uuid", "modified_at")
LINE_COMPUTED = (
    "line_no",
    "line_amount",
    "quantity_shipped",
    "quantity_invoiced",
    "shipment_date",
)


def _refused(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(as_serializer_error(exc))


class SalesOrderLineInOrderSerializer(RecordSerializer):
    """A line as part of its order: given when the order is created, shown with it."""

    unit_price = serializers.DecimalField(
        max_digits=18,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=_("Blank or null: the customer's price from the price group and currency."),
    )
    line_discount_amount = serializers.DecimalField(
        max_digits=18,
        decimal_places=2,
        min_value=0,
        required=False,
        allow_null=True,
        help_text=_("Given instead of the percentage: the percentage is derived from it."),
    )
    type = serializers.ChoiceField(
        choices=SalesOrderLine._meta.get_field("type").choices,
        required=False,
        help_text=_("Blank: resource when a resource is given, else item."),
    )

    class Meta:
        model = SalesOrderLine
        exclude = ("order",)
        read_only_fields = (*READ_ONLY, *LINE_COMPUTED)
        extra_kwargs = {"unit_of_measure": {"required": False, "allow_null": True}}


class SalesOrderLineSerializer(SalesOrderLineInOrderSerializer):
    class Meta:
        model = SalesOrderLine
        fields = "__all__"
        read_only_fields = (*READ_ONLY, *LINE_COMPUTED)
        extra_kwargs = SalesOrderLineInOrderSerializer.Meta.extra_kwargs

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.instance is not None and not isinstance(self.instance, list | models.QuerySet):
            # A line stays on its order.
            fields["order"].read_only = True
        return fields

    def create(self, validated_data: dict[str, Any]) -> SalesOrderLine:
        order = validated_data.pop("order")
        try:
            return documents.sales_order_line_add(order=order, data=validated_data)
        except DjangoValidationError as exc:
            raise _refused(exc) from exc

    def update(self, instance: SyncedModel, validated_data: dict[str, Any]) -> SalesOrderLine:
        assert isinstance(instance, SalesOrderLine)
        validated_data.pop("order", None)
        try:
            return documents.sales_order_line_update(line=instance, data=validated_data)
        except DjangoValidationError as exc:
            raise _refused(exc) from exc


class SalesOrderSerializer(RecordSerializer):
    lines = SalesOrderLineInOrderSerializer(
        many=True,
        required=False,
        help_text=_("Given only when the order is created; later through /api/sales-order-lines/."),
    )

    class Meta:
        model = SalesOrder
        fields = "__all__"
        read_only_fields = (*READ_ONLY, "status", "shipped", "invoiced", "last_shipment_date")
        extra_kwargs = {"no": {"required": False, "help_text": _("Blank: the next number.")}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if self.instance is not None and "lines" in attrs:
            raise serializers.ValidationError(
                {"lines": _("Change the lines of an order through /api/sales-order-lines/.")}
            )
        return attrs

    def create(self, validated_data: dict[str, Any]) -> SalesOrder:
        lines = validated_data.pop("lines", [])
        try:
            return documents.sales_order_create(data=validated_data, lines=lines)
        except DjangoValidationError as exc:
            raise _refused(exc) from exc

    def update(self, instance: SyncedModel, validated_data: dict[str, Any]) -> SalesOrder:
        assert isinstance(instance, SalesOrder)
        try:
            return documents.sales_order_update(order=instance, data=validated_data)
        except DjangoValidationError as exc:
            raise _refused(exc) from exc


class PostedSalesInvoiceLineSerializer(RecordSerializer):
    class Meta:
        model = PostedSalesInvoiceLine
        fields = "__all__"


class PostedSalesInvoiceSerializer(RecordSerializer):
    lines = PostedSalesInvoiceLineSerializer(many=True, read_only=True)

    class Meta:
        model = PostedSalesInvoice
        fields = "__all__"


class ShipmentInput(serializers.Serializer):
    shipment_date = serializers.DateField(required=False, help_text=_("Blank: today."))


class InvoiceInput(serializers.Serializer):
    posting_date = serializers.DateField(required=False, help_text=_("Blank: today."))


class DocumentViewSetMixin(GuardedApiMixin):
    table: Table
    # Related rows a document shows with it.
    prefetch: tuple[str, ...] = ()
    permission_classes = (ErpApiPermission,)
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self) -> models.QuerySet:
        model = self.table.model
        fks = [f.name for f in model._meta.fields if isinstance(f, models.ForeignKey)]
        qs = model.objects.select_related(*fks).order_by(*(model._meta.ordering or ()), "pk")
        return qs.prefetch_related(*self.prefetch)


def _tagged(table: Table, *names: str) -> Any:
    return extend_schema_view(**{name: extend_schema(tags=[table.slug]) for name in names})


CRUD = ("list", "retrieve", "create", "update", "partial_update", "destroy")


@_tagged(SALES_ORDERS, *CRUD)
class SalesOrderViewSet(DocumentViewSetMixin, viewsets.ModelViewSet):
    """Sales orders of the ERP with their lines, and their release, shipment and invoice."""

    table = SALES_ORDERS
    filterset_class = filterset_for(SALES_ORDERS)
    search_fields = list(SALES_ORDERS.search_fields)
    ordering_fields = ordering_fields_for(SALES_ORDERS)
    serializer_class = SalesOrderSerializer
    prefetch = ("lines__item", "lines__resource", "lines__unit_of_measure")

    def perform_destroy(self, instance: SalesOrder) -> None:
        try:
            documents.sales_order_delete(order=instance)
        except DjangoValidationError as exc:
            raise _refused(exc) from exc

    def _done(self, order: SalesOrder) -> Response:
        order = self.get_queryset().get(pk=order.pk)
        return Response(SalesOrderSerializer(order, context=self.get_serializer_context()).data)

    def _run(self, call: Any) -> Any:
        try:
            return call()
        except DjangoValidationError as exc:
            raise _refused(exc) from exc

    @extend_schema(tags=[SALES_ORDERS.slug], request=None, responses=SalesOrderSerializer)
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        """Release an open order with lines: it can then be shipped and invoiced."""
        order = self.get_object()
        return self._done(self._run(lambda: documents.sales_order_release(order=order)))

    @extend_schema(tags=[SALES_ORDERS.slug], request=None, responses=SalesOrderSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        """Reopen a released order so that it can be changed."""
        order = self.get_object()
        return self._done(self._run(lambda: documents.sales_order_reopen(order=order)))

    @extend_schema(tags=[SALES_ORDERS.slug], request=ShipmentInput, responses=SalesOrderSerializer)
    @action(detail=True, methods=["post"])
    def ship(self, request: Request, pk: str) -> Response:
        """Post the shipment of everything outstanding: fills the quantities shipped and the
        shipment date, and takes the items out of inventory."""
        order = self.get_object()
        given = ShipmentInput(data=request.data)
        given.is_valid(raise_exception=True)
        date = given.validated_data.get("shipment_date")
        shipment = self._run(lambda: documents.sales_order_ship(order=order, shipment_date=date))
        return self._done(shipment.order)

    @extend_schema(
        tags=[SALES_ORDERS.slug],
        request=InvoiceInput,
        responses={201: PostedSalesInvoiceSerializer},
    )
    @action(detail=True, methods=["post"])
    def invoice(self, request: Request, pk: str) -> Response:
        """Post the invoice of what was shipped and not yet invoiced: answers with the posted
        sales invoice."""
        order = self.get_object()
        given = InvoiceInput(data=request.data)
        given.is_valid(raise_exception=True)
        date = given.validated_data.get("posting_date")
        invoice = self._run(lambda: documents.sales_order_invoice(order=order, posting_date=date))
        invoice = PostedSalesInvoice.objects.prefetch_related("lines").get(pk=invoice.pk)
        data = PostedSalesInvoiceSerializer(invoice, context=self.get_serializer_context()).data
        return Response(data, status=status.HTTP_201_CREATED)


@_tagged(SALES_ORDER_LINES, *CRUD)
class SalesOrderLineViewSet(DocumentViewSetMixin, viewsets.ModelViewSet):
    """Lines of sales orders; changed only while their order is open."""

    table = SALES_ORDER_LINES
    filterset_class = filterset_for(SALES_ORDER_LINES)
    search_fields = list(SALES_ORDER_LINES.search_fields)
    ordering_fields = ordering_fields_for(SALES_ORDER_LINES)
    serializer_class = SalesOrderLineSerializer

    def perform_destroy(self, instance: SalesOrderLine) -> None:
        try:
            documents.sales_order_line_delete(line=instance)
        except DjangoValidationError as exc:
            raise _refused(exc) from exc


@_tagged(POSTED_SALES_INVOICES, "list", "retrieve")
class PostedSalesInvoiceViewSet(
    DocumentViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Posted sales invoices with their lines (read-only: they are made by posting an order's
    invoice)."""

    table = POSTED_SALES_INVOICES
    filterset_class = filterset_for(POSTED_SALES_INVOICES)
    search_fields = list(POSTED_SALES_INVOICES.search_fields)
    ordering_fields = ordering_fields_for(POSTED_SALES_INVOICES)
    serializer_class = PostedSalesInvoiceSerializer
    prefetch = ("lines__item", "lines__resource", "lines__unit_of_measure")


@_tagged(POSTED_SALES_INVOICE_LINES, "list", "retrieve")
class PostedSalesInvoiceLineViewSet(
    DocumentViewSetMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Lines of posted sales invoices (read-only)."""

    table = POSTED_SALES_INVOICE_LINES
    filterset_class = filterset_for(POSTED_SALES_INVOICE_LINES)
    search_fields = list(POSTED_SALES_INVOICE_LINES.search_fields)
    ordering_fields = ordering_fields_for(POSTED_SALES_INVOICE_LINES)
    serializer_class = PostedSalesInvoiceLineSerializer


DOCUMENT_VIEWSETS: dict[str, type[viewsets.GenericViewSet]] = {
    SALES_ORDERS.slug: SalesOrderViewSet,
    SALES_ORDER_LINES.slug: SalesOrderLineViewSet,
    POSTED_SALES_INVOICES.slug: PostedSalesInvoiceViewSet,
    POSTED_SALES_INVOICE_LINES.slug: PostedSalesInvoiceLineViewSet,
}
