"""A logging filter that masks secrets wherever they would appear in a log line.

Secrets are never passed to loggers on purpose; this is the second line of defence for
exception messages and third-party libraries (for example a URL-encoded token request body).
"""

import logging
import re

_MASKED_NAMES = r"(?:client_secret|password|access_token|refresh_token|secret|api_key|apikey|key)"
_PATTERNS = [
    # Quoted values first, whole: a password may contain spaces or commas.
    re.compile(r"(?i)(" + _MASKED_NAMES + r"[\"']?\s*[=:]\s*\")([^\"]*)"),
    re.compile(r"(?i)(" + _MASKED_NAMES + r"[\"']?\s*[=:]\s*')([^']*)"),
    # key=value pairs in form bodies, query strings and reprs
    re.compile(r"(?i)(" + _MASKED_NAMES + r"[\"']?\s*[=:]\s*)([^&\s\"',}*][^&\s\"',}]*)"),
    # Authorization headers (OAuth bearer tokens, Basic credentials, DRF API tokens)
    re.compile(r"(?i)(authorization[\"']?\s*[:=]\s*[\"']?(?:bearer|basic|token)\s+)([^\s\"',}]+)"),
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
