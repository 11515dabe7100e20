"""Unbound functions and actions of the sandbox Web API, plus the service document and
`$metadata`."""

from __future__ import annotations

from sandbox import seed, solution
from sandbox.base import ApiBase
from sandbox.protocol import Request, Response, json_response
from sandbox.tables import (
    BIGINT,
    BOOL,
    CHOICE,
    DATE,
    DATETIME,
    DECIMAL,
    GUID,
    INT,
    MEMO,
    MONEY,
    STRING,
    ManyToMany,
    OneToMany,
)

# The sales order messages (sandbox/orders.py) and the integration's item availability function
# (sandbox/availability.py), as `$metadata` declares them.
_CLOSE_PARAMETERS = (
    '<Parameter Name="OrderClose" Type="mscrm.orderclose" Nullable="false" />'
    '<Parameter Name="Status" Type="Edm.Int32" Nullable="false" />'
)
OPERATIONS_XML = (
    f'<Action Name="FulfillSalesOrder">{_CLOSE_PARAMETERS}</Action>'
    f'<Action Name="CancelSalesOrder">{_CLOSE_PARAMETERS}</Action>'
    '<ComplexType Name="erpcrm_GetItemAvailabilityResponse">'
    '<Property Name="ProductId" Type="Edm.Guid" Nullable="false" />'
    '<Property Name="ItemNo" Type="Edm.String" /><Property Name="ItemDescription" '
    'Type="Edm.String" /><Property Name="Blocked" Type="Edm.Boolean" />'
    '<Property Name="BaseUnitOfMeasure" Type="Edm.String" />'
    '<Property Name="BaseQuantity" Type="Edm.Decimal" /><Property Name="UomId" Type="Edm.Guid" />'
    '<Property Name="UomName" Type="Edm.String" />'
    '<Property Name="AvailableQuantity" Type="Edm.Decimal" /></ComplexType>'
    '<Function Name="erpcrm_GetItemAvailability" IsBound="true">'
    '<Parameter Name="entity" Type="mscrm.product" Nullable="false" />'
    '<Parameter Name="UomId" Type="Edm.Guid" Nullable="true" />'
    '<ReturnType Type="mscrm.erpcrm_GetItemAvailabilityResponse" Nullable="false" /></Function>'
)


class FunctionMixin(ApiBase):
    """The service document, `$metadata`, the WhoAmI function and the ImportSolution action."""

    def service_document(self, req: Request) -> Response:
        sets = sorted(t.entity_set for t in self.tables.values())
        return json_response(
            200,
            {
                "@odata.context": f"{req.root}$metadata",
                "value": [{"name": s, "kind": "EntitySet", "url": s} for s in sets],
            },
        )

    def metadata(self, req: Request) -> Response:
        edm = {
            STRING: "Edm.String", MEMO: "Edm.String", INT: "Edm.Int32", BIGINT: "Edm.Int64",
            DECIMAL: "Edm.Decimal", MONEY: "Edm.Decimal", BOOL: "Edm.Boolean",
            DATETIME: "Edm.DateTimeOffset", DATE: "Edm.Date", GUID: "Edm.Guid", CHOICE: "Edm.Int32",
        }  # fmt: skip
        types: list[str] = []
        sets: list[str] = []
        for table in sorted(self.tables.values(), key=lambda t: t.logical):
            props = [f'<Property Name="{table.pk}" Type="Edm.Guid" Nullable="false" />']
            props += [
                f'<Property Name="{c.name}" Type="{edm[c.type]}" />'
                for c in table.columns
                if c.name != table.pk
            ]
            props += [
                f'<Property Name="_{lk.name}_value" Type="Edm.Guid" />' for lk in table.lookups
            ]
            navs = [
                f'<NavigationProperty Name="{nav}" Type="mscrm.{target}" />'
                for nav, (_, target) in table.nav_map.items()
            ]
            collections: list[OneToMany | ManyToMany] = [*table.one_to_many, *table.many_to_many]
            navs += [
                f'<NavigationProperty Name="{n.name}" Type="Collection(mscrm.{n.table})" />'
                for n in collections
            ]
            types.append(
                f'<EntityType Name="{table.logical}"><Key><PropertyRef Name="{table.pk}" /></Key>'
                + "".join(props + navs)
                + "</EntityType>"
            )
            tracking = (
                '<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
                '<PropertyValue Property="Supported" Bool="true" /></Record></Annotation>'
                if table.change_tracking
                else ""
            )
            sets.append(
                f'<EntitySet Name="{table.entity_set}" EntityType="mscrm.{table.logical}">'
                f"{tracking}</EntitySet>"
            )
        xml = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
            '<edmx:DataServices><Schema Namespace="Microsoft.Dynamics.CRM" Alias="mscrm" '
            'xmlns="http://docs.oasis-open.org/odata/ns/edm">'
            + "".join(types)
            + '<ComplexType Name="WhoAmIResponse"><Property Name="BusinessUnitId" Type="Edm.Guid" '
            'Nullable="false" /><Property Name="UserId" Type="Edm.Guid" Nullable="false" />'
            '<Property Name="OrganizationId" Type="Edm.Guid" Nullable="false" /></ComplexType>'
            '<Function Name="WhoAmI"><ReturnType Type="mscrm.WhoAmIResponse" Nullable="false" />'
            "</Function>"
            + OPERATIONS_XML
            + '<EntityContainer Name="System">'
            + "".join(sets)
            + "</EntityContainer>"
            "</Schema></edmx:DataServices></edmx:Edmx>"
        )
        return Response(
            200,
            [("Content-Type", "application/xml"), ("OData-Version", "4.0")],
            xml.encode(),
        )

    def whoami(self, req: Request) -> Response:
        user = self.store.get("systemusers", req.user_id) or {}
        return json_response(
            200,
            {
                "@odata.context": f"{req.root}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                "BusinessUnitId": user.get("_businessunitid_value") or seed.ROOT_BUSINESS_UNIT_ID,
                "UserId": req.user_id,
                "OrganizationId": seed.ORGANIZATION_ID,
            },
        )

    def import_solution(self, req: Request) -> Response:
        return solution.import_solution(self, req)
