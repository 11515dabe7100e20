"""Option mappings: ERP payment terms become option values of the account's payment terms
column, and customers carry them, against the live sandbox."""

import pytest

from erp.models import PaymentTerms
from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, CrmOptionCoupling
from tests.factories.erp import CustomerFactory, PaymentTermsFactory

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def test_payment_terms_are_matched_or_added_and_customers_use_them(
    sync_setup, crm_salesperson
) -> None:
    existing = PaymentTermsFactory(code="NET 30", description="Net 30")  # an option's label
    new = PaymentTermsFactory(code="14 DAYS", description="14 days")
    job = synchronize(sync_setup.mapping("PAYMENT TERMS"), full=True).jobs[0]
    assert (job.coupled, job.inserted, job.failed) == (1, 1, 0), list(
        job.errors.values_list("message")
    )
    assert CrmOptionCoupling.objects.get(erp_uuid=existing.uuid).option_value == 1
    added = CrmOptionCoupling.objects.get(erp_uuid=new.uuid)
    assert added.option_value >= 100000000 and added.label == "14 DAYS"
    # A second run finds both coupled.
    again = synchronize(sync_setup.mapping("PAYMENT TERMS")).jobs[0]
    assert (again.unchanged, again.inserted, again.coupled) == (2, 0, 0)

    customer = CustomerFactory(name="Terms Co", payment_terms=new, salesperson=crm_salesperson)
    to_crm = synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True).jobs[0]
    assert to_crm.failed == 0, list(to_crm.errors.values_list("message"))
    account_id = CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id
    assert sync_setup.crm.row("accounts", str(account_id))["paymenttermscode"] == added.option_value
    # The CRM user picks the other terms: the customer follows.
    response = sync_setup.crm.patch(f"accounts({account_id})", json={"paymenttermscode": 1})
    assert response.status_code == 204, response.text
    synchronize(sync_setup.mapping("CUSTOMER"))
    customer.refresh_from_db()
    assert customer.payment_terms == existing


def test_a_customer_waits_for_terms_that_are_not_coupled_yet(sync_setup, crm_salesperson) -> None:
    terms = PaymentTermsFactory(code="60 DAYS")
    customer = CustomerFactory(
        name="Waiting Terms", payment_terms=terms, salesperson=crm_salesperson
    )
    job = synchronize(sync_setup.mapping("CUSTOMER"), direction="to_crm", full=True).jobs[0]
    assert job.failed == 1
    assert CrmCoupling.objects.get(erp_uuid=customer.uuid).waiting_for == "PAYMENT TERMS"
    assert PaymentTerms.objects.count() == 1
