"""A logging filter that masks secrets wherever they would appear in a log line.

Secrets are never passed to loggers on purpose; this is the second line of defence for
exception messages and third-party libraries (for example a URL-encoded token request body).
"""

import logging
import re

# Names whose value is a secret, in key=value pairs, JSON bodies and reprs. "token" covers
# access_token, refresh_token, id_token and bare "token"; "key" covers api_key and friends.
_MASKED_NAMES = r"(?:client_secret|password|passwd|passphrase|secret|token|api_key|apikey|key)"
# Names whose value a person typed: it may hold spaces, so an unquoted one is masked up to the
# end of its field, not its first word.
_PHRASE_NAMES = r"(?:password|passwd|passphrase)"
# A quoted value, escaped quotes included (a JSON string may hold \").
_DQ_VALUE = r'((?:[^"\\]|\\.)*)'
_SQ_VALUE = r"((?:[^'\\]|\\.)*)"
_PATTERNS = [
    # Credentials in a URL: scheme://user:password@host (a database or broker URL).
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)([^\s/@]+)(?=@)"),
    # Quoted values first, whole: a password may contain spaces or commas.
    re.compile(r"(?i)(" + _MASKED_NAMES + r"[\"']?\s*[=:]\s*\")" + _DQ_VALUE),
    re.compile(r"(?i)(" + _MASKED_NAMES + r"[\"']?\s*[=:]\s*')" + _SQ_VALUE),
    # An unquoted password runs to the end of its field: "&" (form bodies), the end of the
    # line, or the next "name=" pair. The lookahead after the separator keeps the regex from
    # backtracking into an already masked or quoted value.
    re.compile(
        r"(?i)(" + _PHRASE_NAMES + r"[\"']?\s*[=:]\s*)(?![\s\"'*])"
        r"(.+?)(?=&|\r|\n|\s+[A-Za-z_][\w.-]*\s*=|$)"
    ),
    # key=value pairs in form bodies, query strings and reprs
    re.compile(r"(?i)(" + _MASKED_NAMES + r"[\"']?\s*[=:]\s*)([^&\s\"',}*][^&\s\"',}]*)"),
    # Authorization headers (OAuth bearer tokens, Basic credentials, DRF API tokens)
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+)([^\s\"',}]+)"),
    # A bearer token on its own ("Bearer eyJ..."), wherever it was copied to.
    re.compile(r"(?i)(\bbearer\s+)([A-Za-z0-9\-._~+/]+=*)"),
]


def redact(text: str) -> str:
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not stop logging
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and not record.exc_text:
            # Exception messages carry secrets too (a request body in an HTTP error); the
            # formatter reuses exc_text instead of formatting the traceback again.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
