"""The rules of a mapping and its field mappings (syncjobs/validation.py), each refused and
accepted; every default mapping passes them."""

import pytest

from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import (
    DeletionConflictResolution,
    Direction,
    IntegrationFieldMapping,
    IntegrationTableMapping,
    UidType,
    UpdateConflictResolution,
)
from syncjobs.validation import mapping_validate

BI, TO, FROM = Direction.BIDIRECTIONAL, Direction.TO_CRM, Direction.FROM_CRM


def mapping(**kwargs) -> IntegrationTableMapping:
    values = {"name": "M", "erp_table": "erp.Customer", "direction": TO, **kwargs}
    return IntegrationTableMapping(**values)


def fm(**kwargs) -> IntegrationFieldMapping:
    values = {"erp_field": "name", "crm_field": "name", "direction": TO, **kwargs}
    return IntegrationFieldMapping(**values)


def errors_of(m: IntegrationTableMapping, *fields: IntegrationFieldMapping):
    problems = mapping_validate(mapping=m, field_mappings=list(fields))
    return problems.errors, problems.field_errors, problems.warnings


@pytest.mark.django_db
def test_every_default_mapping_is_valid() -> None:
    services.default_setup_reset(
        options=services.DefaultSetupOptions(areas=ALL_AREAS, sales_order_integration=True)
    )
    for m in IntegrationTableMapping.objects.all():
        problems = mapping_validate(mapping=m, field_mappings=list(m.field_mappings.all()))
        assert not problems, (m.name, problems)


def test_a_to_crm_mapping_needs_an_enabled_field_going_to_the_crm() -> None:
    disabled = fm(status=IntegrationFieldMapping.Status.DISABLED)
    errors, _fields, _w = errors_of(mapping(), disabled)
    assert "enabled field mapping to To CRM" in errors["direction"][0]

    errors, fields, _w = errors_of(mapping(), disabled, fm())
    assert errors == {} and fields == {}


def test_a_bidirectional_field_counts_for_a_from_crm_mapping() -> None:
    errors, _f, _w = errors_of(mapping(direction=FROM), fm(direction=BI))
    assert errors == {}


def test_an_option_mapping_cannot_be_bidirectional_nor_its_fields() -> None:
    option = mapping(direction=BI, crm_uid_type=UidType.OPTION, erp_table="erp.PaymentTerms")
    errors, fields, _w = errors_of(option, fm(erp_field="code", direction=BI))
    assert "option mapping" in errors["direction"][0]
    assert "option mapping" in fields[0]["direction"][0]

    option.direction = TO
    errors, fields, _w = errors_of(option, fm(erp_field="code"))
    assert errors == {} and fields == {}


def test_clear_on_failed_sync_and_not_null_exclude_each_other() -> None:
    both = fm(erp_field="primary_contact", clear_value_on_failed_sync=True, not_null=True)
    _e, fields, _w = errors_of(mapping(), both)
    assert "exclude each other" in fields[0]["not_null"][0]

    both.not_null = False
    _e, fields, _w = errors_of(mapping(), both)
    assert fields == {}


def test_a_from_crm_field_on_a_to_crm_mapping_is_refused() -> None:
    _e, fields, _w = errors_of(mapping(), fm(), fm(direction=FROM))
    assert "only synchronizes To CRM" in fields[1]["direction"][0]

    _e, fields, _w = errors_of(mapping(direction=BI), fm(), fm(direction=FROM))
    assert fields == {}


@pytest.mark.parametrize("path", ["nmae", "company_contact__bogus", "name__first"])
def test_an_erp_field_must_exist_on_the_erp_model(path: str) -> None:
    _e, fields, _w = errors_of(mapping(), fm(erp_field=path))
    assert fields[0]["erp_field"]


@pytest.mark.parametrize(
    "table, path",
    [("erp.Customer", "company_contact__no"), ("erp.Contact", "company__customer")],
)
def test_a_path_through_references_is_an_erp_field(table: str, path: str) -> None:
    _e, fields, _w = errors_of(mapping(erp_table=table), fm(erp_field=path))
    assert fields == {}


def test_an_unchecked_erp_field_may_be_anything() -> None:
    _e, fields, _w = errors_of(mapping(), fm(erp_field="computed_thing", validate_field=False))
    assert fields == {}


def test_a_constant_needs_an_empty_source() -> None:
    _e, fields, _w = errors_of(mapping(), fm(), fm(constant_value="3", crm_field="x"))
    assert "leave the ERP field empty" in fields[1]["erp_field"][0]

    _e, fields, _w = errors_of(mapping(), fm(), fm(erp_field="", constant_value="3"))
    assert fields == {}


def test_a_constant_cannot_go_both_ways() -> None:
    constant = fm(erp_field="", constant_value="3", direction=BI)
    _e, fields, _w = errors_of(mapping(direction=BI), fm(direction=BI), constant)
    assert "goes one way" in fields[1]["constant_value"][0]


@pytest.mark.parametrize("value", [[1, 2], {"a": {"b": 1}}, {"a": [1]}, "text"])
def test_a_value_map_must_be_a_flat_object_of_scalars(value) -> None:
    _e, fields, _w = errors_of(mapping(), fm(value_map=value))
    assert fields[0]["value_map"]


def test_a_flat_value_map_is_accepted() -> None:
    _e, fields, _w = errors_of(mapping(), fm(value_map={"A": "1", "B": 2, "C": None, "D": True}))
    assert fields == {}


def test_update_conflict_resolution_needs_a_bidirectional_mapping() -> None:
    rule = UpdateConflictResolution.SEND_TO_CRM
    errors, _f, _w = errors_of(mapping(update_conflict_resolution=rule), fm())
    assert "only a bidirectional mapping" in errors["update_conflict_resolution"][0]

    errors, _f, _w = errors_of(
        mapping(direction=BI, update_conflict_resolution=rule), fm(direction=BI)
    )
    assert errors == {}


def test_removing_couplings_of_a_mapping_that_also_syncs_uncoupled_records_warns() -> None:
    rule = DeletionConflictResolution.REMOVE_COUPLING
    errors, _f, warnings = errors_of(
        mapping(deletion_conflict_resolution=rule, sync_only_coupled=False), fm()
    )
    assert errors == {}
    assert "may create the record again" in warnings[0]

    _e, _f, warnings = errors_of(mapping(deletion_conflict_resolution=rule), fm())
    assert warnings == []


def test_a_crm_filter_the_engine_cannot_evaluate_is_refused() -> None:
    errors, _f, _w = errors_of(mapping(integration_table_filter="contains(name, 'x')"), fm())
    assert "evaluates this filter" in errors["integration_table_filter"][0]
    errors, _f, _w = errors_of(
        mapping(integration_table_filter="statecode eq 0 and (customertypecode eq 3 or x ne null)"),
        fm(),
    )
    assert errors == {}


def test_an_erp_filter_on_a_field_the_table_lacks_is_refused() -> None:
    errors, _f, _w = errors_of(mapping(table_filter={"colour": "red"}), fm())
    assert "cannot be applied to erp.Customer" in errors["table_filter"][0]
    errors, _f, _w = errors_of(mapping(table_filter={"blocked": ""}), fm())
    assert errors == {}
