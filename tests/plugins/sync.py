"""The synchronization engine's test setup: the default mappings on a connection to the live
sandbox, a salesperson coupled to the sandbox's CRM user, and a client reading the CRM past the
app (`crm`)."""

from dataclasses import dataclass

import pytest

from connection.models import CrmConnection
from erp.models import Salesperson
from sandbox import seed
from sandbox.process import SandboxProcess
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import CrmCoupling, IntegrationTableMapping
from tests.factories.erp import SalespersonFactory
from tests.support.sandbox import Crm


@dataclass
class SyncSetup:
    connection: CrmConnection
    mappings: dict[str, IntegrationTableMapping]
    crm: Crm

    def mapping(self, name: str) -> IntegrationTableMapping:
        return IntegrationTableMapping.objects.get(name=name)


@pytest.fixture
def sync_setup(saved_connection: CrmConnection, sandbox: SandboxProcess) -> SyncSetup:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    return SyncSetup(
        connection=saved_connection,
        mappings={m.name: m for m in IntegrationTableMapping.objects.all()},
        crm=Crm(sandbox),
    )


@pytest.fixture
def crm_salesperson(sync_setup: SyncSetup) -> Salesperson:
    """The ERP salesperson JO, coupled to the sandbox's CRM user of the same person."""
    person = seed.demo_data()["salespeople"][0]
    salesperson = SalespersonFactory(code=person["code"], name=person["name"])
    CrmCoupling.objects.create(
        erp_table="erp.salesperson",
        erp_uuid=salesperson.uuid,
        crm_entity="systemuser",
        crm_id=seed.salesperson_user_id(person["code"]),
    )
    return salesperson
