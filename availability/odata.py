"""The OData v4 vocabulary of the item availability service: the entity model, CSDL, and the
translation of system query options ($filter, $select, $orderby, ...) into a Django query.

$filter is parsed by odata-query into its AST; property names are mapped to our fields on the
AST and odata-query's own visitor turns the result into a Django Q object.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import quoteattr

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from odata_query import ast
from odata_query import exceptions as odata_exceptions
from odata_query.django.django_q import AstToDjangoQVisitor
from odata_query.grammar import ODataLexer, ODataParser
from odata_query.visitor import NodeTransformer

NAMESPACE = "ErpCrm"
CONTAINER = "Container"
ENTITY_SET = "ProductItemAvailability"
ENTITY_TYPE = "ProductItemAvailability"
KEY_PROPERTY = "ItemNo"
MAX_PAGE_SIZE = 100


class ODataError(Exception):
    """An OData error response: HTTP status, OData error code and a message for the client."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str) -> ODataError:
    return ODataError(400, "BadRequest", message)


@dataclass(frozen=True)
class Property:
    name: str
    field: str  # a model field or an annotation of product_item_availability_queryset()
    edm_type: str
    nullable: bool = True
    facets: str = ""


PROPERTIES: dict[str, Property] = {
    p.name: p
    for p in (
        Property("ItemNo", "no", "Edm.String", nullable=False, facets='MaxLength="20"'),
        Property(
            "Description", "description", "Edm.String", nullable=False, facets='MaxLength="100"'
        ),
        Property(
            "BaseUnitOfMeasure", "uom_code", "Edm.String", nullable=False, facets='MaxLength="10"'
        ),
        Property(
            "Inventory",
            "inventory",
            "Edm.Decimal",
            nullable=False,
            facets='Precision="18" Scale="2"',
        ),
        Property(
            "UnitPrice",
            "unit_price",
            "Edm.Decimal",
            nullable=False,
            facets='Precision="18" Scale="2"',
        ),
        Property("Blocked", "blocked", "Edm.Boolean", nullable=False),
        Property("CrmProductId", "crm_product_id", "Edm.Guid", nullable=True),
    )
}


def _property_xml(prop: Property) -> str:
    nullable = "true" if prop.nullable else "false"
    facets = f" {prop.facets}" if prop.facets else ""
    attributes = f'Name="{prop.name}" Type="{prop.edm_type}" Nullable="{nullable}"{facets}'
    return f"        <Property {attributes}/>"


def metadata_xml() -> str:
    props = "\n".join(_property_xml(p) for p in PROPERTIES.values())
    return f"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace={quoteattr(NAMESPACE)} xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="{ENTITY_TYPE}">
        <Key>
          <PropertyRef Name="{KEY_PROPERTY}"/>
        </Key>
{props}
      </EntityType>
      <EntityContainer Name="{CONTAINER}">
        <EntitySet Name="{ENTITY_SET}" EntityType="{NAMESPACE}.{ENTITY_TYPE}"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>
"""


def _json_value(prop: Property, value: Any) -> Any:
    if value is None:
        return None
    if prop.edm_type == "Edm.Decimal":
        # JSON numbers (not strings): the default for clients that do not ask for IEEE754Compatible.
        return (
            float(value)
            if isinstance(value, Decimal) and value != value.to_integral()
            else int(value)
        )
    if prop.edm_type == "Edm.Guid":
        return str(value)
    return value


def entity_json(item: Model, select: list[str]) -> dict[str, Any]:
    return {
        name: _json_value(PROPERTIES[name], getattr(item, PROPERTIES[name].field))
        for name in select
    }


# --- $filter --------------------------------------------------------------------------------


_LITERALS: dict[str, tuple[type, ...]] = {
    "Edm.String": (ast.String,),
    "Edm.Decimal": (ast.Integer, ast.Float),
    "Edm.Boolean": (ast.Boolean,),
    "Edm.Guid": (ast.GUID,),
}


def _check_literal(prop_node: ast._Node, literal: ast._Node) -> None:
    if not isinstance(prop_node, ast.Identifier) or not isinstance(literal, ast._Literal):
        return
    prop = PROPERTIES.get(prop_node.name)
    if prop is None or isinstance(literal, (ast.Null, *_LITERALS[prop.edm_type])):
        return
    raise bad_request(
        _("Invalid $filter: %(name)s is %(type)s and cannot be compared with %(value)s.")
        % {"name": prop.name, "type": prop.edm_type, "value": getattr(literal, "val", literal)}
    )


class _PropertyMapper(NodeTransformer):
    """Renames OData properties to our fields; anything but a plain known property is refused."""

    def visit_Identifier(self, node: ast.Identifier) -> ast.Identifier:
        prop = PROPERTIES.get(node.name)
        if prop is None or node.namespace:
            raise bad_request(_("Unknown property '%(name)s'.") % {"name": node.full_name()})
        return ast.Identifier(prop.field)

    def visit_Attribute(self, node: ast.Attribute) -> ast._Node:
        raise bad_request(
            _("Navigation properties are not supported: '%(name)s'.") % {"name": node.attr}
        )

    def visit_CollectionLambda(self, node: ast.CollectionLambda) -> ast._Node:
        raise bad_request(_("Lambda operators (any/all) are not supported."))

    def visit_Compare(self, node: ast.Compare) -> ast._Node:
        # Caught here because some databases would silently compare a number with a text.
        _check_literal(node.left, node.right)
        _check_literal(node.right, node.left)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.Call:
        # The function name is an Identifier too, but not a property.
        return ast.Call(node.func, [self.visit(arg) for arg in node.args])


def filter_q(expression: str, model: type[Model]) -> Q:
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(expression))
    except odata_exceptions.ODataException as exc:
        raise bad_request(_("Invalid $filter: %(error)s") % {"error": exc}) from exc
    if tree is None:
        raise bad_request(_("Invalid $filter: the expression is empty."))
    mapped = _PropertyMapper().visit(tree)
    try:
        q = AstToDjangoQVisitor(model).visit(mapped)
    except odata_exceptions.ODataException as exc:
        raise bad_request(_("Invalid $filter: %(error)s") % {"error": exc}) from exc
    if not isinstance(q, Q):
        raise bad_request(_("Invalid $filter: the expression is not a condition."))
    return q


# --- the other system query options -----------------------------------------------------------

SUPPORTED_OPTIONS = {
    "$filter",
    "$select",
    "$orderby",
    "$top",
    "$skip",
    "$count",
    "$skiptoken",
    "$format",
}


@dataclass
class QueryOptions:
    filter: str | None
    select: list[str]
    orderby: list[str]  # Django order_by terms
    top: int | None
    skip: int
    count: bool
    skiptoken: int


def _non_negative_int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    if not raw.strip().isdigit():
        raise bad_request(_("%(option)s must be a non-negative integer.") % {"option": name})
    return int(raw)


def parse_select(raw: str | None) -> list[str]:
    if raw is None or raw.strip() in ("", "*"):
        return list(PROPERTIES)
    names = [part.strip() for part in raw.split(",")]
    for name in names:
        if name not in PROPERTIES:
            raise bad_request(_("Unknown property '%(name)s' in $select.") % {"name": name})
    return list(dict.fromkeys(names))


def parse_orderby(raw: str | None) -> list[str]:
    terms: list[str] = []
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        words = part.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise bad_request(_("Invalid $orderby: '%(part)s'.") % {"part": part.strip()})
        prop = PROPERTIES.get(words[0])
        if prop is None:
            raise bad_request(_("Unknown property '%(name)s' in $orderby.") % {"name": words[0]})
        descending = len(words) == 2 and words[1].lower() == "desc"
        terms.append(("-" if descending else "") + prop.field)
    # By key unless told otherwise; a unique last term keeps pages stable, so paging never
    # repeats or skips a row.
    return [*(terms or [PROPERTIES[KEY_PROPERTY].field]), "pk"]


def parse_options(params: dict[str, str]) -> QueryOptions:
    for name in params:
        if name.startswith("$") and name not in SUPPORTED_OPTIONS:
            raise bad_request(_("The query option %(option)s is not supported.") % {"option": name})
    fmt = params.get("$format")
    if fmt is not None and fmt.split(";")[0] not in ("json", "application/json"):
        raise bad_request(_("Only $format=json is supported."))
    count_raw = params.get("$count", "false").lower()
    if count_raw not in ("true", "false"):
        raise bad_request(_("$count must be true or false."))
    return QueryOptions(
        filter=params.get("$filter"),
        select=parse_select(params.get("$select")),
        orderby=parse_orderby(params.get("$orderby")),
        top=_non_negative_int(params, "$top"),
        skip=_non_negative_int(params, "$skip") or 0,
        count=count_raw == "true",
        skiptoken=_non_negative_int(params, "$skiptoken") or 0,
    )


def apply_filter(queryset: QuerySet, expression: str | None) -> QuerySet:
    if expression is None or not expression.strip():
        return queryset
    return queryset.filter(filter_q(expression, queryset.model))


def preferred_page_size(prefer_header: str) -> int | None:
    """The client's `Prefer: odata.maxpagesize=N`, if any."""
    for preference in prefer_header.split(","):
        name, _sep, value = preference.strip().partition("=")
        if (
            name.strip().lower() == "odata.maxpagesize"
            and value.strip().isdigit()
            and int(value) > 0
        ):
            return int(value)
    return None
