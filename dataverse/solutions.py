"""Solution import: ImportSolution with a client-chosen ImportJobId, then reading the job.

The job, not the call, says whether the import worked: the call can time out or be retried
after the server already ran it, and a finished job can still report a failure in its XML.
"""

from __future__ import annotations

import base64
import uuid
import xml.etree.ElementTree as ET

from . import errors
from .query import Queries
from .types import ImportJobResult


class SolutionImport(Queries):
    """`import_solution()`: ImportSolution, then the ImportJob's own verdict."""

    def import_solution(
        self,
        zip_bytes: bytes,
        import_job_id: uuid.UUID | None = None,
        *,
        overwrite_unmanaged_customizations: bool = True,
        publish_workflows: bool = True,
    ) -> ImportJobResult:
        """Import a solution zip synchronously, then report the ImportJob's outcome."""
        job_id = import_job_id or uuid.uuid4()
        call_error: errors.DataverseError | None = None
        try:
            self.request(
                "POST",
                "ImportSolution",
                json_body={
                    "OverwriteUnmanagedCustomizations": overwrite_unmanaged_customizations,
                    "PublishWorkflows": publish_workflows,
                    "CustomizationFile": base64.b64encode(zip_bytes).decode("ascii"),
                    "ImportJobId": str(job_id),
                },
                read_timeout=self.settings.import_timeout,
            )
        except (errors.AuthenticationFailed, errors.Forbidden, errors.ConnectionFailed):
            raise
        except errors.DataverseError as exc:
            # DuplicatedJobId after a retried call means the first call ran: read the job.
            call_error = exc
        try:
            job = self.get(
                "importjobs", job_id, select=["progress", "completedon", "solutionname", "data"]
            )
        except errors.NotFound:
            job = None
        if job is None:
            message = call_error.message if call_error else "The import job was not found."
            return ImportJobResult(import_job_id=job_id, success=False, message=message)
        data = job.get("data") or ""
        result, message = _import_result(data)
        progress = job.get("progress")
        if result is None:
            success = call_error is None and (progress is None or float(progress) >= 100)
        else:
            success = result == "success"
        if call_error is not None and (result is None or not success):
            message = message or call_error.message
            success = False
        return ImportJobResult(
            import_job_id=job_id,
            success=success,
            progress=float(progress) if progress is not None else None,
            solution_name=job.get("solutionname") or "",
            message=message,
            data=data,
        )


def _import_result(data: str) -> tuple[str | None, str]:
    """('success'|'failure'|None, message) from the ImportJob's `data` XML."""
    if not data:
        return None, ""
    try:
        root = ET.fromstring(data)  # noqa: S314 - the CRM's own XML, no entities expanded
    except ET.ParseError:
        return None, ""
    node = root.find(".//solutionManifest/result")
    if node is None and root.tag == "solutionManifest":
        node = root.find("result")
    if node is None:
        node = root.find(".//result")
    if node is None:
        return None, ""
    result = (node.get("result") or "").lower() or None
    message = node.get("errortext") or node.get("errorcode") or ""
    return result, message
