"""The synchronization engine: one mapping, one direction at a time (docs/engine.md).

`synchronize()` is what tasks, pages and commands call. It runs the ERP -> CRM pass first and
the CRM -> ERP pass second (as the reference does), each recorded in its own JobRun with every
counter, an error row per failed record and the field changes of every record it wrote.
"""

from .run import EngineResult, synchronize

__all__ = ["EngineResult", "synchronize"]
