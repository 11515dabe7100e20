"""A JSON parser for the REST API that refuses bodies nested deeper than any record needs.

Python's json module recurses once per nesting level: a body of 100,000 `[` raised RecursionError
inside the parser, a 500. The nesting is counted first, without recursion, so such a body is a
plain 400 whatever the stack depth of the request.
"""

import codecs
import re
from typing import IO, Any

from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils import json

# A record is one flat object (a list of them at most); 32 levels leave room for any client.
MAX_JSON_DEPTH = 32
# Strings are skipped whole, so a bracket inside one does not count.
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def json_depth_exceeds(*, text: str, limit: int) -> bool:
    depth = 0
    for match in _TOKENS.finditer(text):
        lexeme = match.group()
        if lexeme in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif lexeme in ("]", "}"):
            depth -= 1
    return False


class BoundedJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[bytes],
        media_type: str | None = None,
        parser_context: dict[str, Any] | None = None,
    ) -> Any:
        # get_encoding refuses bytes-to-bytes codecs (a zip bomb in the charset parameter).
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
        if json_depth_exceeds(text=text, limit=MAX_JSON_DEPTH):
            raise ParseError(
                _("JSON parse error - the body is nested deeper than %(limit)d levels.")
                % {"limit": MAX_JSON_DEPTH}
            )
        parse_constant = json.strict_constant if self.strict else None
        try:
            return json.loads(text, parse_constant=parse_constant)
        except ValueError as exc:
            raise ParseError(_("JSON parse error - %(error)s") % {"error": exc}) from exc
