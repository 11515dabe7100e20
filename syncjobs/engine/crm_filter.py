"""Evaluate a mapping's CRM filter (an OData $filter) on rows already read.

Dataverse's change tracking takes no $filter, so the rows of a delta are filtered here: the
same expression the full read sends to the server decides whether a changed row is in scope.
Comparisons, and/or/not, parentheses and the literals a mapping filter uses are supported; an
expression with anything else is refused when the mapping is saved, not at run time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser


class FilterUnsupported(ValueError):
    pass


@lru_cache(maxsize=256)
def parse(expression: str) -> ast._Node:
    try:
        return ODataParser().parse(ODataLexer().tokenize(expression))  # type: ignore[no-any-return]
    except ODataException as exc:
        raise FilterUnsupported(f"The CRM filter cannot be read: {exc}") from exc


def columns(expression: str) -> set[str]:
    """The columns an expression reads (to add them to $select)."""
    if not expression.strip():
        return set()
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, ast.Identifier):
            found.add(node.name)
        for value in getattr(node, "__dict__", {}).values():
            if isinstance(value, ast._Node):
                walk(value)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

    walk(parse(expression))
    return found


def _literal(node: ast._Node) -> Any:
    if isinstance(node, ast.Null):
        return None
    if isinstance(node, ast.Boolean):
        return node.val.lower() == "true"
    if isinstance(node, ast.Integer | ast.Float):
        return Decimal(node.val)
    if isinstance(node, ast.GUID):
        return uuid.UUID(node.val)
    if isinstance(node, ast.String | ast.Date | ast.DateTime):
        return node.val
    if isinstance(node, ast.List):
        return [_literal(v) for v in node.val]
    raise FilterUnsupported(f"Unsupported value in the CRM filter: {type(node).__name__}")


def _comparable(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
        try:
            return Decimal(value) if value.strip() and value.strip()[0].isdigit() else value
        except InvalidOperation:
            return value
    return value


_COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a is not None and b is not None and a < b,
    ast.LtE: lambda a, b: a is not None and b is not None and a <= b,
    ast.Gt: lambda a, b: a is not None and b is not None and a > b,
    ast.GtE: lambda a, b: a is not None and b is not None and a >= b,
    ast.In: lambda a, b: a in b,
}


def _value(node: ast._Node, row: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Identifier):
        return _comparable(row.get(node.name))
    literal = _literal(node)
    if isinstance(literal, list):
        return [_comparable(v) for v in literal]
    return _comparable(literal)


def _evaluate(node: ast._Node, row: Mapping[str, Any]) -> bool:
    if isinstance(node, ast.BoolOp):
        if isinstance(node.op, ast.And):
            return _evaluate(node.left, row) and _evaluate(node.right, row)
        return _evaluate(node.left, row) or _evaluate(node.right, row)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return not _evaluate(node.operand, row)
    if isinstance(node, ast.Compare):
        compare = _COMPARE.get(type(node.comparator))
        if compare is None:
            raise FilterUnsupported(f"Unsupported comparison {type(node.comparator).__name__}")
        try:
            return compare(_value(node.left, row), _value(node.right, row))
        except TypeError:
            return False
    if isinstance(node, ast.Identifier):
        return bool(row.get(node.name))
    raise FilterUnsupported(f"Unsupported expression in the CRM filter: {type(node).__name__}")


def matches(expression: str, row: Mapping[str, Any]) -> bool:
    """Does a raw CRM row (as the Web API returns it) satisfy the filter?"""
    if not expression.strip():
        return True
    return _evaluate(parse(expression), row)


def check(expression: str) -> None:
    """Raise FilterUnsupported unless the expression can be evaluated here."""
    if expression.strip():
        _evaluate(parse(expression), {})
