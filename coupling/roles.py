"""Who may do what on the coupling pages, and on the coupling panel of the ERP card pages."""

from accounts.roles import ALL_ROLES, INTEGRATION_ADMIN, SALESPERSON

READERS = ALL_ROLES
COUPLERS = (INTEGRATION_ADMIN, SALESPERSON)
RETRIERS = ALL_ROLES  # support staff retry; salespeople and administrators too
