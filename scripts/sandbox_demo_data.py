"""Write sandbox/data/demo_overlap.json: the ERP demo records the sandbox CRM seeds from.

The sandbox is a stand-alone Dataverse double and must not import the ERP app, yet its demo
organization has to overlap the ERP demo data (same customers, contacts and salespeople) so
that coupling and synchronization have something to find. This script is the one bridge: it
reads `erp.demo` and writes the subset the sandbox needs into a file the sandbox owns.
`tests/sandbox/test_demo_data.py` regenerates it in memory and fails when the committed file
has drifted from the ERP demo data.

    .venv/bin/python scripts/sandbox_demo_data.py          # rewrite the file
    .venv/bin/python scripts/sandbox_demo_data.py --check  # exit 1 if it is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_FILE = BASE_DIR / "sandbox" / "data" / "demo_overlap.json"

# Only the fields sandbox/seed.py reads: a smaller file, and a change to an unused ERP field
# does not force a regeneration.
CUSTOMER_FIELDS = (
    "no", "name", "address", "post_code", "city", "country_code", "email", "phone", "home_page",
)  # fmt: skip
CONTACT_FIELDS = ("no", "first_name", "last_name", "email", "phone", "company_no")


def build() -> dict[str, Any]:
    """The data file's content, computed from the ERP demo data."""
    if str(BASE_DIR) not in sys.path:
        sys.path.insert(0, str(BASE_DIR))  # run as a script from anywhere
    from erp import demo  # noqa: PLC0415 - only after the path fix above

    salespeople = [
        {
            "code": person["code"],
            "name": person["name"],
            "phone": person["phone"],
            # the CRM user's sign-in name, without the ERP's mail domain
            "login": demo.ascii_slug(person["name"], "."),
        }
        for person in demo.demo_salespeople()
    ]
    customers = [{k: c[k] for k in CUSTOMER_FIELDS} for c in demo.overlap_customers()]
    contacts = [{k: p[k] for k in CONTACT_FIELDS} for p in demo.overlap_contacts()]
    return {
        "generated_by": "scripts/sandbox_demo_data.py from erp.demo; do not edit by hand",
        "salespeople": salespeople,
        "customers": customers,
        "contacts": contacts,
    }


def render(data: dict[str, Any]) -> str:
    """Stable text (sorted keys, one record per line group) so diffs stay readable."""
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        current = DATA_FILE.read_text(encoding="utf-8") if DATA_FILE.exists() else ""
        if current != text:
            print(f"{DATA_FILE.relative_to(BASE_DIR)} is out of date; run {Path(__file__).name}")
            return 1
        return 0
    DATA_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {DATA_FILE.relative_to(BASE_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
