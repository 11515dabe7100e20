"""Couplings are the synchronization engine's data and live in syncjobs.models; the coupling
pages of this app (above the engine) use them from there. Re-exported for readers of this app.
"""

from syncjobs.models import (
    CRM_PRODUCT,
    ERP_ITEM,
    CrmCoupling,
    CrmOptionCoupling,
    SyncResult,
)

__all__ = ["CRM_PRODUCT", "ERP_ITEM", "CrmCoupling", "CrmOptionCoupling", "SyncResult"]
