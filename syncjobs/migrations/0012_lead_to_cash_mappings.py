"""Existing setups: SALESORDER-ORDER and POSTEDSALESINV-INV named placeholder ERP tables
("Sales Header", "Sales Invoice Header") until the ERP had sales documents, so their scheduled
runs stopped at once. Point them at erp.SalesOrder / erp.PostedSalesInvoice with the default
field mappings, and add the invoice lines' child mapping POSTEDSALESLINE-INV where the invoices
mapping exists. Mappings a user already changed (another ERP table) are left alone.

The field lists come from syncjobs.defaults (pure data, no models), applied here with the
historical models and the saved connection's owner choice, as `services._field_rows` does.
"""

from django.db import migrations

from syncjobs import defaults

PLACEHOLDERS = {
    "SALESORDER-ORDER": "Sales Header",
    "POSTEDSALESINV-INV": "Sales Invoice Header",
}
LINES = "POSTEDSALESLINE-INV"


def _definitions():
    return {d.name: d for d in [*defaults.DEFAULT_MAPPINGS, defaults.SALES_ORDER_MAPPING]}


def _owner(apps):
    connection = apps.get_model("connection", "CrmConnection").objects.first()
    if connection is None or connection.owner_mode == "salesperson":
        return True, ""
    return False, str(connection.default_owner_id or "")


def _field_rows(FieldMapping, mapping, definition, owner_is_salesperson, default_owner_id):
    rows = []
    for position, f in enumerate(definition.fields):
        constant, erp_field = f.constant_value, f.erp_field
        if f.owner and not owner_is_salesperson:
            if f.crm_field != "ownerid":
                continue
            erp_field, constant = "", f"/systemusers({default_owner_id})"
        rows.append(
            FieldMapping(
                mapping=mapping,
                position=position,
                erp_field=erp_field,
                crm_field=f.crm_field,
                direction=f.direction,
                constant_value=constant,
                validate_field=f.validate_field,
                clear_value_on_failed_sync=f.clear_value_on_failed_sync,
                not_null=f.not_null,
                use_for_match_based_coupling=f.match,
                match_priority=f.match_priority,
                crm_lookup_entity=f.lookup if erp_field else "",
                option_mapping=f.option,
                transformation=f.transformation,
                value_map=dict(f.value_map),
                status="enabled" if f.enabled else "disabled",
            )
        )
    return rows


def _apply(Mapping, FieldMapping, mapping, definition, owner):
    mapping.erp_table = definition.erp_table
    mapping.table_filter = definition.table_filter
    mapping.dependency_filter = definition.dependency_filter
    mapping.sync_only_coupled = definition.sync_only_coupled
    mapping.has_scheduled_job = definition.has_scheduled_job
    mapping.priority = definition.priority
    mapping.save()
    FieldMapping.objects.filter(mapping=mapping).delete()
    FieldMapping.objects.bulk_create(_field_rows(FieldMapping, mapping, definition, *owner))


def forwards(apps, schema_editor):
    Mapping = apps.get_model("syncjobs", "IntegrationTableMapping")
    FieldMapping = apps.get_model("syncjobs", "IntegrationFieldMapping")
    definitions = _definitions()
    owner = _owner(apps)
    for name, placeholder in PLACEHOLDERS.items():
        mapping = Mapping.objects.filter(name=name, erp_table=placeholder).first()
        if mapping is not None:
            _apply(Mapping, FieldMapping, mapping, definitions[name], owner)
    if (
        Mapping.objects.filter(name="POSTEDSALESINV-INV").exists()
        and not Mapping.objects.filter(name=LINES).exists()
    ):
        definition = definitions[LINES]
        mapping = Mapping.objects.create(
            name=LINES,
            erp_table=definition.erp_table,
            crm_entity=definition.crm_entity,
            crm_entity_set=definition.crm_entity_set,
            crm_uid_field=definition.crm_uid_field,
            crm_modified_on_field="modifiedon",
            direction=definition.direction,
            inactivity_timeout_minutes=definition.inactivity_timeout_minutes,
        )
        _apply(Mapping, FieldMapping, mapping, definition, owner)


class Migration(migrations.Migration):
    dependencies = [
        ("syncjobs", "0011_fullsync_chunks"),
        ("connection", "0002_tables_renamed_crm_users"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
