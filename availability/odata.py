"""The OData v4 vocabulary of the item availability service: the entity model, CSDL, and the
translation of system query options ($filter, $select, $orderby, ...) into a Django query.

$filter is parsed by odata-query into its AST; property names are mapped to our fields on the
AST and odata-query's own visitor turns the result into a Django Q object.
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import quoteattr

from django.core.exceptions import FieldError, ValidationError
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

# Limits checked on the tokens, before the parser builds a tree: the visitors below, odata-query's
# and Django's query compiler all recurse once per tree level, so an unbounded expression would
# end in RecursionError. A tree is at most (operators + parenthesis depth) levels deep, well
# within Python's recursion limit at these values; real CRM queries use a handful of each.
MAX_FILTER_LENGTH = 2000
MAX_FILTER_OPERATORS = 100
MAX_FILTER_NESTING = 20
# The range of a 64-bit integer, the widest integer every supported database binds; numbers
# outside it overflow in the driver (SQLite) or the server (PostgreSQL).
MAX_INTEGER = 2**63 - 1
# Decimal literals beyond this cannot equal any Edm.Decimal value of ours (Precision 18, Scale 2).
MAX_DECIMAL = Decimal(10) ** 18

_OPERATOR_TOKENS = frozenset(
    {"AND", "OR", "NOT", "EQ", "NE", "LT", "LE", "GT", "GE", "IN"}
    | {"ADD", "SUB", "MUL", "DIV", "MOD", "UMINUS"}
)
# Python's \d (used by odata-query's lexer) matches every Unicode decimal digit, so these are
# checked again for ASCII: int() would accept "٣" and the database would see a number nobody
# typed.
_ASCII_INTEGER = re.compile(r"[+-]?[0-9]+")
_ASCII_DECIMAL = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?", re.IGNORECASE)


def _invalid_filter(reason: str) -> ODataError:
    return bad_request(_("Invalid $filter: %(error)s") % {"error": reason})


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
        if isinstance(node.left, ast.Null) and isinstance(node.comparator, (ast.Eq, ast.NotEq)):
            # odata-query handles null on the right only; eq and ne are symmetric.
            node = ast.Compare(node.comparator, node.right, node.left)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> ast.Call:
        # The function name is an Identifier too, but not a property.
        return ast.Call(node.func, [self.visit(arg) for arg in node.args])


# The types the checker below tells apart. Integers and decimals compare with each other; a
# condition (a comparison, and/or/not, contains()...) and a Boolean value compare with each other.
_STRING, _INTEGER, _DECIMAL, _BOOLEAN, _GUID = (
    "Edm.String",
    "Edm.Int64",
    "Edm.Decimal",
    "Edm.Boolean",
    "Edm.Guid",
)
_CONDITION, _NULL = "condition", "null"
_FAMILIES = {_INTEGER: "number", _DECIMAL: "number", _BOOLEAN: "boolean", _CONDITION: "boolean"}
_FIELD_TYPES = {p.field: p.edm_type for p in PROPERTIES.values()}
_NUMBER = (_INTEGER, _DECIMAL)
# The functions the service supports: argument types and result type. Date and time functions
# have nothing to work on (no property is a date); matchesPattern would hand a client's regular
# expression to the database.
_FUNCTIONS: dict[str, tuple[tuple[tuple[str, ...], ...], str]] = {
    "contains": (((_STRING,), (_STRING,)), _CONDITION),
    "startswith": (((_STRING,), (_STRING,)), _CONDITION),
    "endswith": (((_STRING,), (_STRING,)), _CONDITION),
    "length": (((_STRING,),), _INTEGER),
    "indexof": (((_STRING,), (_STRING,)), _INTEGER),
    "substring": (((_STRING,), (_INTEGER,), (_INTEGER,)), _STRING),
    "tolower": (((_STRING,),), _STRING),
    "toupper": (((_STRING,),), _STRING),
    "trim": (((_STRING,),), _STRING),
    "concat": (((_STRING,), (_STRING,)), _STRING),
    "round": ((_NUMBER,), _DECIMAL),
    "floor": ((_NUMBER,), _DECIMAL),
    "ceiling": ((_NUMBER,), _DECIMAL),
}


def _type_name(edm_type: str) -> str:
    return {_CONDITION: _("a condition"), _NULL: "null"}.get(edm_type, edm_type)


def _as_condition(node: ast._Node, edm_type: str) -> ast._Node:
    """A node where a condition is expected: a Boolean value `b` becomes `b eq true`, which
    odata-query can turn into a Q (it cannot for a bare property or literal)."""
    if edm_type == _CONDITION:
        return node
    if edm_type == _BOOLEAN:
        return ast.Compare(ast.Eq(), node, ast.Boolean("true"))
    raise _invalid_filter(_("%(type)s is not a condition.") % {"type": _type_name(edm_type)})


class _TypeChecker:
    """Types every node of a mapped $filter tree and refuses what the database would fail on
    (a text compared with a number, year() of a text, ...): on PostgreSQL such a query is an
    error, on SQLite it silently compares the wrong things. Returns the tree with Boolean values
    used as conditions rewritten (see _as_condition)."""

    def condition(self, node: ast._Node) -> ast._Node:
        return _as_condition(*self.typed(node))

    def typed(self, node: ast._Node) -> tuple[ast._Node, str]:
        check = getattr(self, f"_{type(node).__name__}", None)
        if check is None:
            raise _invalid_filter(
                _("%(node)s is not supported.") % {"node": type(node).__name__.lower()}
            )
        return check(node)

    def _Identifier(self, node: ast.Identifier) -> tuple[ast._Node, str]:
        return node, _FIELD_TYPES[node.name]

    def _Null(self, node: ast.Null) -> tuple[ast._Node, str]:
        return node, _NULL

    def _String(self, node: ast.String) -> tuple[ast._Node, str]:
        return node, _STRING

    def _Boolean(self, node: ast.Boolean) -> tuple[ast._Node, str]:
        return node, _BOOLEAN

    def _GUID(self, node: ast.GUID) -> tuple[ast._Node, str]:
        if not node.val.isascii():
            raise _invalid_filter(_("'%(value)s' is not a GUID.") % {"value": node.val})
        return node, _GUID

    def _Integer(self, node: ast.Integer) -> tuple[ast._Node, str]:
        digits = node.val.lstrip("+-")
        if (
            not _ASCII_INTEGER.fullmatch(node.val)
            or len(digits) > len(str(MAX_INTEGER))
            or int(digits) > MAX_INTEGER
        ):
            raise _invalid_filter(_number_error(node.val))
        return node, _INTEGER

    def _Float(self, node: ast.Float) -> tuple[ast._Node, str]:
        if not _ASCII_DECIMAL.fullmatch(node.val):
            raise _invalid_filter(_number_error(node.val))
        try:
            # Decimal, not float: "1e400" is a finite Decimal but an infinite float.
            too_big = abs(Decimal(node.val)) >= MAX_DECIMAL
        except ArithmeticError:
            too_big = True  # an exponent beyond the Decimal context's range
        if too_big:
            raise _invalid_filter(_number_error(node.val))
        return node, _DECIMAL

    def _BoolOp(self, node: ast.BoolOp) -> tuple[ast._Node, str]:
        return ast.BoolOp(
            node.op, self.condition(node.left), self.condition(node.right)
        ), _CONDITION

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[ast._Node, str]:
        if isinstance(node.op, ast.Not):
            return ast.UnaryOp(node.op, self.condition(node.operand)), _CONDITION
        # odata-query cannot negate an expression (a negative number is a literal of its own).
        raise _invalid_filter(_("The minus sign is supported on numbers only."))

    def _BinOp(self, node: ast.BinOp) -> tuple[ast._Node, str]:
        left, left_type = self.typed(node.left)
        right, right_type = self.typed(node.right)
        if left_type not in _NUMBER or right_type not in _NUMBER:
            raise _invalid_filter(
                _("Arithmetic needs numbers, not %(left)s and %(right)s.")
                % {"left": _type_name(left_type), "right": _type_name(right_type)}
            )
        if (
            isinstance(node.op, (ast.Div, ast.Mod))
            and isinstance(right, (ast.Integer, ast.Float))
            and Decimal(right.val) == 0
        ):
            # PostgreSQL fails on it, SQLite answers null: refused the same way on both.
            raise _invalid_filter(_("division by zero."))
        result = _INTEGER if left_type == right_type == _INTEGER else _DECIMAL
        return ast.BinOp(node.op, left, right), result

    def _Compare(self, node: ast.Compare) -> tuple[ast._Node, str]:
        if isinstance(node.comparator, ast.In):
            raise _invalid_filter(_("The in operator is not supported."))
        left, left_type = self.typed(node.left)
        right, right_type = self.typed(node.right)
        if _NULL in (left_type, right_type):
            # Only "x eq null" and "x ne null" mean something (the mapper put null on the right).
            if left_type == _NULL or not isinstance(node.comparator, (ast.Eq, ast.NotEq)):
                raise _invalid_filter(_("null can only be compared with eq or ne to a value."))
        elif left_type != right_type and (
            _FAMILIES.get(left_type) is None
            or _FAMILIES.get(left_type) != _FAMILIES.get(right_type)
        ):
            raise _invalid_filter(
                _("%(left)s cannot be compared with %(right)s.")
                % {"left": _type_name(left_type), "right": _type_name(right_type)}
            )
        if isinstance(node.comparator, ast.NotEq) and right_type != _NULL:
            return _not_equal(left, right), _CONDITION
        return ast.Compare(node.comparator, left, right), _CONDITION

    def _Call(self, node: ast.Call) -> tuple[ast._Node, str]:
        name = node.func.full_name()
        signature = _FUNCTIONS.get(name)
        if signature is None:
            raise _invalid_filter(_("The function %(name)s is not supported.") % {"name": name})
        parameters, result = signature
        args: list[ast._Node] = []
        for position, arg in enumerate(node.args):
            # The parser has checked the number of arguments already.
            typed, arg_type = self.typed(arg)
            if arg_type not in parameters[min(position, len(parameters) - 1)]:
                raise _invalid_filter(
                    _("%(name)s() cannot take %(type)s.")
                    % {"name": name, "type": _type_name(arg_type)}
                )
            args.append(typed)
        return ast.Call(node.func, args), result


_NULLABLE_FIELDS = {p.field for p in PROPERTIES.values() if p.nullable}


def _not_equal(left: ast._Node, right: ast._Node) -> ast._Node:
    """`left ne right` as `not (left eq right)`, or null: odata-query's own "ne" lookup fails on
    the CrmProductId subquery (it adds a tuple of parameters to a list), and in OData (unlike
    SQL) null is not equal to any value, so a row without a CRM product is "ne" every GUID."""
    condition: ast._Node = ast.UnaryOp(ast.Not(), ast.Compare(ast.Eq(), left, right))
    nullable = [
        side
        for side in (left, right)
        if isinstance(side, ast.Identifier) and side.name in _NULLABLE_FIELDS
    ]
    if len(nullable) == 1:
        condition = ast.BoolOp(ast.Or(), condition, ast.Compare(ast.Eq(), nullable[0], ast.Null()))
    return condition


def _number_error(value: str) -> str:
    return _("%(value)s is not a number in the supported range.") % {"value": value}


def _tokens(expression: str) -> list[Any]:
    """The expression's tokens, once they are known to be few enough to parse and evaluate."""
    if len(expression) > MAX_FILTER_LENGTH:
        raise _invalid_filter(
            _("the expression is longer than %(max)d characters.") % {"max": MAX_FILTER_LENGTH}
        )
    try:
        tokens = list(ODataLexer().tokenize(expression))
    except odata_exceptions.ODataException as exc:
        raise _invalid_filter(str(exc)) from exc
    operators = sum(token.type in _OPERATOR_TOKENS for token in tokens)
    if operators > MAX_FILTER_OPERATORS:
        raise _invalid_filter(
            _("the expression has more than %(max)d operators.") % {"max": MAX_FILTER_OPERATORS}
        )
    depth = deepest = 0
    for token in tokens:
        depth += {"(": 1, ")": -1}.get(token.type, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_FILTER_NESTING:
        raise _invalid_filter(
            _("parentheses are nested deeper than %(max)d.") % {"max": MAX_FILTER_NESTING}
        )
    return tokens


# What odata-query or Django may still raise on a tree that passed the checks above: kept as a
# 400 rather than a 500, since whatever reaches them came from the client's $filter.
FILTER_ERRORS: tuple[type[BaseException], ...] = (
    odata_exceptions.ODataException,
    ValueError,
    TypeError,
    ArithmeticError,
    NotImplementedError,
    RecursionError,
    FieldError,
    ValidationError,
)


def filter_q(expression: str, model: type[Model]) -> Q:
    tokens = _tokens(expression)
    try:
        tree = ODataParser().parse(iter(tokens))
    except odata_exceptions.ODataException as exc:
        raise _invalid_filter(str(exc)) from exc
    if tree is None:
        raise bad_request(_("Invalid $filter: the expression is empty."))
    mapped = _PropertyMapper().visit(tree)
    checked = _TypeChecker().condition(mapped)
    try:
        q = AstToDjangoQVisitor(model).visit(checked)
    except FILTER_ERRORS as exc:
        raise _invalid_filter(str(exc)) from exc
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


def _ascii_count(raw: str) -> int | None:
    """A non-negative integer within MAX_INTEGER written in ASCII digits, else None.
    (str.isdigit() alone accepts "²", which int() refuses, and "٣", which it reads as 3.)"""
    raw = raw.strip()
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    # Checked on the length first, so int() never converts a megabyte of digits.
    if len(raw) > len(str(MAX_INTEGER)) or int(raw) > MAX_INTEGER:
        return None
    return int(raw)


def _non_negative_int(params: dict[str, str], name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    value = _ascii_count(raw)
    if value is None:
        raise bad_request(
            _("%(option)s must be a non-negative integer up to %(max)d.")
            % {"option": name, "max": MAX_INTEGER}
        )
    return value


def reject_nul(*texts: str) -> None:
    """NUL is never meaningful in a query, and PostgreSQL refuses it in any text it is given."""
    if any("\x00" in text for text in texts):
        raise bad_request(_("The request contains a NUL character."))


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
    q = filter_q(expression, queryset.model)
    try:
        return queryset.filter(q)
    except FILTER_ERRORS as exc:
        raise _invalid_filter(str(exc)) from exc


def preferred_page_size(prefer_header: str) -> int | None:
    """The client's `Prefer: odata.maxpagesize=N`, if any (0 asks for nothing and is ignored)."""
    for preference in prefer_header.split(","):
        name, _sep, value = preference.strip().partition("=")
        if name.strip().lower() != "odata.maxpagesize":
            continue
        size = _ascii_count(value)
        if size is None:
            raise bad_request(
                _("odata.maxpagesize must be a non-negative integer up to %(max)d.")
                % {"max": MAX_INTEGER}
            )
        if size > 0:
            return size
    return None
