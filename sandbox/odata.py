"""OData v4 pieces the sandbox needs: URL segments and keys, $filter, $orderby, $select/$expand,
Prefer headers. Written for the sandbox alone (the client has its own code)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ODataError(Exception):
    """A malformed query option or URL; the API turns it into a 400."""

    def __init__(self, message: str, code: str = "0x80060888") -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def split_segments(path: str) -> list[str]:
    """Split a resource path on '/' but not inside parentheses or quotes."""
    segments: list[str] = []
    buf: list[str] = []
    depth = 0
    in_quote = False
    for ch in path:
        if ch == "'":
            in_quote = not in_quote
        elif not in_quote and ch == "(":
            depth += 1
        elif not in_quote and ch == ")":
            depth -= 1
        if ch == "/" and depth == 0 and not in_quote:
            segments.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    segments.append("".join(buf))
    return [s for s in segments if s != ""]


def split_name_and_key(segment: str) -> tuple[str, str | None]:
    """`accounts(…)` -> ("accounts", "…"); `accounts` -> ("accounts", None)."""
    if segment.endswith(")") and "(" in segment:
        i = segment.index("(")
        return segment[:i], segment[i + 1 : -1]
    return segment, None


def parse_literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    low = text.lower()
    if low == "null":
        return None
    if low == "true":
        return True
    if low == "false":
        return False
    if GUID_RE.match(text):
        return text.lower()
    if DATETIME_RE.match(text):
        return normalize_datetime(text)
    if DATE_RE.match(text):
        return text
    try:
        if re.fullmatch(r"[+-]?\d+", text):
            return int(text)
        return float(text.rstrip("MmDdFf"))
    except ValueError as exc:
        raise ODataError(f"Syntax error: '{text}' is not a valid literal.", "0x80060888") from exc


def parse_key(text: str) -> dict[str, Any] | str:
    """`<guid>` -> the guid (lower case); `a='x',b=2` -> {"a": "x", "b": 2}."""
    text = text.strip()
    if GUID_RE.match(text):
        return text.lower()
    parts = _split_outside_quotes(text, "'")
    values: dict[str, Any] = {}
    for part in parts:
        if "=" not in part:
            raise ODataError(f"Bad Request - Error in query syntax: invalid key '{text}'.")
        name, _, value = part.partition("=")
        values[name.strip()] = parse_literal(value)
    return values


def normalize_datetime(text: str) -> str:
    """Any ISO date-time literal -> `YYYY-MM-DDTHH:MM:SSZ` in UTC (how rows store them)."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ODataError(f"'{text}' is not a valid date-time.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------------- $filter

TOKEN_RE = re.compile(
    r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})
  | (?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<num>[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfF]?)
  | (?P<punct>[(),=\[\]])
  | (?P<ident>[A-Za-z_@$][A-Za-z0-9_./@$]*)
    )""",
    re.VERBOSE,
)

COMPARISON = {"eq", "ne", "gt", "ge", "lt", "le"}


@dataclass
class Token:
    kind: str
    value: Any


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise ODataError(f"Syntax error at position {pos} in '{text}'.", "0x80060888")
        pos = m.end()
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "str":
            tokens.append(Token("lit", raw[1:-1].replace("''", "'")))
        elif kind == "guid":
            tokens.append(Token("lit", raw.lower()))
        elif kind == "dt":
            tokens.append(Token("lit", normalize_datetime(raw)))
        elif kind == "date":
            tokens.append(Token("lit", raw))
        elif kind == "num":
            tokens.append(Token("lit", parse_literal(raw)))
        elif kind == "punct":
            tokens.append(Token(raw, raw))
        else:
            low = raw.lower()
            if low in ("true", "false"):
                tokens.append(Token("lit", low == "true"))
            elif low == "null":
                tokens.append(Token("lit", None))
            elif low in ("and", "or", "not") or low in COMPARISON:
                tokens.append(Token(low, low))
            else:
                tokens.append(Token("ident", raw))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


# A compiled filter is a function of (row, resolver) where resolver(path) returns a value.
Predicate = Callable[[Callable[[str], Any]], bool]


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, bool):
        return int(value)
    return value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "eq":
        if left is None or right is None:
            return left is None and right is None
        return _norm(left) == _norm(right)
    if op == "ne":
        if left is None or right is None:
            return not (left is None and right is None)
        return _norm(left) != _norm(right)
    if left is None or right is None:
        return False
    a, b = _norm(left), _norm(right)
    try:
        if op == "gt":
            return a > b
        if op == "ge":
            return a >= b
        if op == "lt":
            return a < b
        return a <= b
    except TypeError:
        return False


class FilterParser:
    """Recursive descent: or -> and -> not -> comparison -> primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.paths: set[str] = set()

    def peek(self) -> Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, kind: str | None = None) -> Token:
        tok = self.peek()
        if tok is None or (kind is not None and tok.kind != kind):
            raise ODataError(f"Syntax error in $filter '{self.text}'.")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.parse_or()
        if self.peek() is not None:
            raise ODataError(f"Syntax error in $filter '{self.text}'.")
        return pred

    def parse_or(self) -> Predicate:
        left = self.parse_and()
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            right = self.parse_and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def parse_and(self) -> Predicate:
        left = self.parse_not()
        while (tok := self.peek()) is not None and tok.kind == "and":
            self.take()
            right = self.parse_not()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def parse_not(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok.kind == "not":
            self.take()
            inner = self.parse_not()
            return lambda r: not inner(r)
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok.kind == "(":
            self.take()
            inner = self.parse_or()
            self.take(")")
            return inner
        left = self.parse_operand()
        nxt = self.peek()
        if nxt is not None and nxt.kind in COMPARISON:
            op = self.take().kind
            right = self.parse_operand()
            return lambda r: _compare(op, left(r), right(r))
        # a bare boolean function call or boolean property
        return lambda r: bool(left(r))

    def parse_operand(self) -> Callable[[Callable[[str], Any]], Any]:
        tok = self.take()
        if tok.kind == "lit":
            value = tok.value
            return lambda r: value
        if tok.kind == "ident":
            name = tok.value
            nxt = self.peek()
            if nxt is not None and nxt.kind == "(":
                return self.parse_function(name)
            self.paths.add(name)
            return lambda r: r(name)
        raise ODataError(f"Syntax error in $filter '{self.text}'.")

    def parse_function(self, name: str) -> Callable[[Callable[[str], Any]], Any]:
        self.take("(")
        args: list[Callable[[Callable[[str], Any]], Any]] = []
        named: dict[str, Any] = {}
        while True:
            tok = self.peek()
            if tok is None:
                raise ODataError(f"Syntax error in $filter '{self.text}'.")
            if tok.kind == ")":
                self.take()
                break
            if tok.kind == ",":
                self.take()
                continue
            # Microsoft.Dynamics.CRM query functions take named parameters: Name='x' or Name=[..]
            if (
                tok.kind == "ident"
                and self.i + 1 < len(self.tokens)
                and self.tokens[self.i + 1].kind == "="
            ):
                self.take()
                self.take("=")
                if (nxt := self.peek()) is not None and nxt.kind == "[":
                    self.take("[")
                    values: list[Any] = []
                    while (item := self.take()).kind != "]":
                        if item.kind == "lit":
                            values.append(item.value)
                        elif item.kind != ",":
                            raise ODataError(f"Syntax error in $filter '{self.text}'.")
                    named[tok.value] = values
                else:
                    named[tok.value] = self.take("lit").value
                continue
            args.append(self.parse_operand())
        lname = name.lower()
        crm = lname.removeprefix("microsoft.dynamics.crm.")
        if lname.startswith("microsoft.dynamics.crm.") and "PropertyName" in named:
            prop = str(named["PropertyName"])
            self.paths.add(prop)
            if crm in ("in", "notin"):
                wanted = {_norm(v) for v in named.get("PropertyValues", [])}
                negate = crm == "notin"
                return lambda r: (r(prop) is not None and _norm(r(prop)) in wanted) != negate
            if crm in ("onorafter", "onorbefore", "on"):
                day = str(named.get("PropertyValue", ""))[:10]

                def on(r: Callable[[str], Any]) -> bool:
                    value = r(prop)
                    if value is None:
                        return False
                    date = str(value)[:10]
                    if crm == "on":
                        return date == day
                    return date >= day if crm == "onorafter" else date <= day

                return on
            if crm in ("equal", "notequal"):
                value = named.get("PropertyValue")
                return lambda r: _compare("eq" if crm == "equal" else "ne", r(prop), value)
        if lname in ("contains", "startswith", "endswith") and len(args) == 2:
            a, b = args

            def fn(r: Callable[[str], Any], lname: str = lname) -> bool:
                hay, needle = a(r), b(r)
                if hay is None or needle is None:
                    return False
                hay, needle = str(hay).lower(), str(needle).lower()
                if lname == "contains":
                    return needle in hay
                if lname == "startswith":
                    return hay.startswith(needle)
                return hay.endswith(needle)

            return fn
        if lname in ("tolower", "toupper", "trim") and len(args) == 1:
            a = args[0]
            ops: dict[str, Callable[[str], str]] = {
                "tolower": str.lower,
                "toupper": str.upper,
                "trim": str.strip,
            }
            return lambda r: None if a(r) is None else ops[lname](str(a(r)))
        raise ODataError(f"The function '{name}' is not supported by the sandbox.")


def compile_filter(text: str) -> tuple[Predicate, set[str]]:
    parser = FilterParser(text)
    pred = parser.parse()
    return pred, parser.paths


# ---------------------------------------------------------------------------- $orderby


def parse_orderby(text: str) -> list[tuple[str, bool]]:
    """-> [(property, descending)]"""
    result: list[tuple[str, bool]] = []
    for part in text.split(","):
        bits = part.strip().split()
        if not bits:
            continue
        if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
            raise ODataError(f"Syntax error in $orderby '{text}'.")
        result.append((bits[0], len(bits) == 2 and bits[1].lower() == "desc"))
    return result


# ---------------------------------------------------------------------------- $select / $expand


@dataclass
class Expand:
    nav: str
    select: list[str] | None = None
    options: dict[str, str] = field(default_factory=dict)


def split_top_level(text: str, sep: str = ",") -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    depth = 0
    in_quote = False
    for ch in text:
        if ch == "'":
            in_quote = not in_quote
        if not in_quote:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
        if ch == sep and depth == 0 and not in_quote:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return [p.strip() for p in parts if p.strip()]


def parse_select(text: str | None) -> list[str] | None:
    if text is None:
        return None
    cols = [c.strip() for c in text.split(",") if c.strip()]
    return cols or None


def parse_expand(text: str | None) -> list[Expand]:
    if not text:
        return []
    result: list[Expand] = []
    for item in split_top_level(text):
        nav, inner = split_name_and_key(item)
        exp = Expand(nav=nav.strip())
        if inner:
            for opt in split_top_level(inner, ";"):
                name, _, value = opt.partition("=")
                exp.options[name.strip()] = value
            exp.select = parse_select(exp.options.get("$select"))
        result.append(exp)
    return result


# ---------------------------------------------------------------------------- Prefer


@dataclass
class Prefer:
    return_representation: bool = False
    maxpagesize: int | None = None
    track_changes: bool = False
    continue_on_error: bool = False
    annotations: list[str] = field(default_factory=list)
    annotations_raw: str | None = None

    def wants(self, annotation: str) -> bool:
        for pattern in self.annotations:
            pattern = pattern.strip()
            if pattern in ("*", annotation):
                return True
            if pattern.endswith("*") and annotation.startswith(pattern[:-1]):
                return True
        return False


def _split_outside_quotes(text: str, quote: str) -> list[str]:
    """Split on commas that are not inside `quote`-delimited text."""
    parts: list[str] = []
    buf: list[str] = []
    in_quote = False
    for ch in text:
        if ch == quote:
            in_quote = not in_quote
        if ch == "," and not in_quote:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def _split_prefer(value: str) -> list[str]:
    """Split a Prefer header on commas outside double quotes (annotation lists are quoted)."""
    return [p.strip() for p in _split_outside_quotes(value, '"') if p.strip()]


def parse_prefer(values: list[str]) -> Prefer:
    prefer = Prefer()
    for value in values:
        for item in _split_prefer(value):
            name, _, arg = item.partition("=")
            name = name.strip().lower()
            arg = arg.strip()
            if name == "return" and arg.lower() == "representation":
                prefer.return_representation = True
            elif name == "odata.maxpagesize":
                try:
                    prefer.maxpagesize = int(arg.strip('"'))
                except ValueError as exc:
                    raise ODataError(f"Invalid odata.maxpagesize '{arg}'.") from exc
            elif name == "odata.track-changes":
                prefer.track_changes = True
            elif name == "odata.continue-on-error":
                prefer.continue_on_error = True
            elif name == "odata.include-annotations":
                prefer.annotations_raw = arg
                prefer.annotations = [a for a in arg.strip('"').split(",") if a]
    return prefer


def new_guid() -> str:
    return str(uuid.uuid4())
