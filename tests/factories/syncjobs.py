"""factory-boy factories for the synchronization setup and its logs (test-only)."""

import factory
from factory.django import DjangoModelFactory

from syncjobs import models


class MappingFactory(DjangoModelFactory):
    """A to-CRM customer mapping; give `field_mappings` rows with FieldMappingFactory."""

    class Meta:
        model = models.IntegrationTableMapping
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"MAPPING {n}")
    erp_table = "erp.Customer"
    crm_entity = "account"
    crm_entity_set = "accounts"
    crm_uid_field = "accountid"
    crm_modified_on_field = "modifiedon"
    direction = models.Direction.TO_CRM


class FieldMappingFactory(DjangoModelFactory):
    class Meta:
        model = models.IntegrationFieldMapping

    mapping = factory.SubFactory(MappingFactory)
    position = factory.Sequence(lambda n: n)
    erp_field = "name"
    crm_field = "name"
    direction = models.Direction.TO_CRM


class JobRunFactory(DjangoModelFactory):
    class Meta:
        model = models.JobRun

    mapping = factory.SubFactory(MappingFactory)
    job_name = factory.LazyAttribute(lambda o: o.mapping.name if o.mapping else "JOB")
    kind = models.JobRun.Kind.SYNCHRONIZATION
    direction = models.Direction.TO_CRM
    status = models.JobRun.Status.SUCCEEDED


class SyncErrorFactory(DjangoModelFactory):
    class Meta:
        model = models.SyncError

    job = factory.SubFactory(JobRunFactory)
    erp_table = "erp.Customer"
    crm_entity = "account"
    message = factory.Sequence(lambda n: f"Problem {n}")


class RecordChangeFactory(DjangoModelFactory):
    class Meta:
        model = models.RecordChange

    job = factory.SubFactory(JobRunFactory)
    action = models.RecordChange.Action.MODIFY
    erp_table = "erp.Customer"
    crm_entity = "account"
    record = factory.Sequence(lambda n: f"C{n:06d}")
    fields = factory.LazyFunction(
        lambda: [{"erp_field": "name", "crm_field": "name", "old": "A", "new": "B"}]
    )
