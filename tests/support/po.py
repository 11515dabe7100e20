"""Reading the .po catalogs (for the tests of the Spanish translation)."""

import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
# makemessages writes an app's strings into the app's own locale folder when it has one.
PO_FILES = [
    BASE_DIR / "locale" / "es" / "LC_MESSAGES" / "django.po",
    *sorted(BASE_DIR.glob("*/locale/es/LC_MESSAGES/django.po")),
]
_FIELD = re.compile(r'^(msgid|msgid_plural|msgstr(?:\[\d+\])?|msgctxt) "(.*)"$')


def po_blocks(text: str) -> list[tuple[dict[str, str], bool]]:
    """Each live entry of a .po file: its fields as written (still escaped: msgid, msgid_plural,
    msgstr, msgstr[n], msgctxt) and whether it is fuzzy. Obsolete (#~) lines are skipped."""
    entries = []
    for block in re.split(r"\n\s*\n", text):
        lines = [line for line in block.splitlines() if not line.startswith("#~")]
        parts: dict[str, str] = {}
        current = None
        for line in lines:
            match = _FIELD.match(line)
            if match:
                current = match.group(1)
                parts[current] = match.group(2)
            elif line.startswith('"') and current:
                parts[current] += line[1:-1]
        if "msgid" not in parts:
            continue
        fuzzy = any(line.startswith("#,") and "fuzzy" in line for line in lines)
        entries.append((parts, fuzzy))
    return entries
