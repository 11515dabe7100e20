"""The integration solution package, zipped the way Dataverse exports a solution.

Microsoft's solution file is a zip with three files at its root (Customization XML reference,
https://learn.microsoft.com/power-apps/developer/model-driven-apps/customization-xml-reference):

- `[Content_Types].xml`: the Open Packaging Conventions content-type list;
- `solution.xml`: the manifest (unique name, version, publisher, root components);
- `customizations.xml`: the components: here the `erpcrm_connection` table and the three
  integration security roles with their privileges.

Dataverse refuses a zip without any of them ("The compressed file must contain the following
files at its root: solution.xml, customizations.xml, and [Content_Types].xml"). The three files
live in setup_wizard/solution/ as plain XML, in the shape of an exported unmanaged solution, so
they can be read, diffed and compared with a real export; this module only checks and zips them.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

SOLUTION_DIR = Path(__file__).resolve().parent / "solution"
# The order Dataverse's own export writes them in.
ROOT_FILES = ("[Content_Types].xml", "solution.xml", "customizations.xml")
# A fixed timestamp: the same source files always give the same bytes (no spurious redeploys).
ZIP_TIMESTAMP = (2024, 1, 1, 0, 0, 0)


class SolutionPackageError(Exception):
    """A file of setup_wizard/solution/ is missing or is not well-formed XML."""


def solution_files() -> dict[str, bytes]:
    """The package's root files by name, each checked to be well-formed XML."""
    files: dict[str, bytes] = {}
    for name in ROOT_FILES:
        path = SOLUTION_DIR / name
        try:
            data = path.read_bytes()
            ET.fromstring(data)  # noqa: S314 - our own file; fail here, not in the CRM's import
        except OSError as exc:
            raise SolutionPackageError(f"{path} cannot be read: {exc}") from exc
        except ET.ParseError as exc:
            raise SolutionPackageError(f"{path} is not well-formed XML: {exc}") from exc
        files[name] = data
    return files


def solution_version() -> str:
    """`<Version>` of solution.xml, e.g. "1.0.0.0"."""
    manifest = ET.fromstring(solution_files()["solution.xml"])  # noqa: S314 - our own file
    return (manifest.findtext("SolutionManifest/Version") or "").strip()


def solution_zip() -> bytes:
    """The solution zip to send as ImportSolution's `CustomizationFile` (base64-encoded)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in solution_files().items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIMESTAMP)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
