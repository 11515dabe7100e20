from tests.setup_wizard.conftest import (  # noqa: F401 - fixtures shared with the setup tests
    admin_client,
    crm,
    integration_admin,
    saved_connection,
)
