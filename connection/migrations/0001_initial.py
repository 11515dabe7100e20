"""The CRM connection moves from setup_wizard to its own app, keeping its tables.

State only: the tables created by setup_wizard.0001 become this app's; 0002 renames them.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

state_operations = [
    migrations.CreateModel(
        name='ConnectionChange',
        fields=[
            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ('changed_at', models.DateTimeField(auto_now_add=True, db_index=True, verbose_name='changed at')),
            ('source', models.CharField(choices=[('wizard', 'Assisted setup'), ('page', 'Connection page'), ('command', 'setup_connection command'), ('system', 'System')], max_length=20, verbose_name='source')),
            ('field', models.CharField(max_length=100, verbose_name='setting')),
            ('old_value', models.TextField(blank=True, verbose_name='old value')),
            ('new_value', models.TextField(blank=True, verbose_name='new value')),
            ('changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='changed by')),
        ],
        options={
            'verbose_name': 'connection change',
            'verbose_name_plural': 'connection changes',
            'ordering': ['-changed_at', '-id'],
            'db_table': 'setup_wizard_connectionchange',
        },
    ),
    migrations.CreateModel(
        name='CrmConnection',
        fields=[
            ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
            ('environment_url', models.URLField(max_length=300, verbose_name='environment URL')),
            ('token_url', models.URLField(max_length=500, verbose_name='token URL')),
            ('client_id', models.CharField(max_length=100, verbose_name='client id')),
            ('client_secret_encrypted', models.TextField(blank=True, editable=False, verbose_name='client secret (encrypted)')),
            ('integration_user_id', models.UUIDField(blank=True, null=True, verbose_name='integration user id')),
            ('integration_user_name', models.CharField(blank=True, max_length=200, verbose_name='integration user')),
            ('organization_id', models.UUIDField(blank=True, null=True, verbose_name='organization id')),
            ('crm_base_currency', models.CharField(blank=True, max_length=5, verbose_name='CRM base currency')),
            ('solution_imported', models.BooleanField(default=False, verbose_name='integration solution imported')),
            ('solution_imported_at', models.DateTimeField(blank=True, null=True, verbose_name='solution imported at')),
            ('roles_assigned', models.BooleanField(default=False, verbose_name='integration roles assigned')),
            ('sync_areas', models.JSONField(blank=True, default=list, verbose_name='areas to synchronize')),
            ('owner_mode', models.CharField(choices=[('salesperson', "The salesperson's coupled CRM user"), ('default', 'A default owner')], default='salesperson', max_length=20, verbose_name='owner of new CRM records')),
            ('default_owner_id', models.UUIDField(blank=True, null=True, verbose_name='default owner id')),
            ('default_owner_name', models.CharField(blank=True, max_length=200, verbose_name='default owner')),
            ('availability_enabled', models.BooleanField(default=False, verbose_name='item availability web service published')),
            ('availability_key_encrypted', models.TextField(blank=True, editable=False, verbose_name='web service access key (encrypted)')),
            ('availability_service_url', models.URLField(blank=True, max_length=300, verbose_name='item availability service URL')),
            ('sales_order_integration', models.BooleanField(default=False, verbose_name='sales order integration')),
            ('order_processor_id', models.UUIDField(blank=True, null=True, verbose_name='CRM user processing orders (id)')),
            ('order_processor_name', models.CharField(blank=True, max_length=200, verbose_name='CRM user processing orders')),
            ('auto_create_sales_orders', models.BooleanField(default=False, verbose_name='automatically create sales orders')),
            ('is_enabled', models.BooleanField(default=False, verbose_name='integration enabled')),
            ('disable_reason', models.TextField(blank=True, verbose_name='disable reason')),
            ('disabled_at', models.DateTimeField(blank=True, null=True, verbose_name='disabled at')),
            ('crm_record_written_at', models.DateTimeField(blank=True, null=True, verbose_name='CRM connection record written at')),
            ('updated_at', models.DateTimeField(auto_now=True, verbose_name='updated at')),
            ('availability_user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='item availability web service user')),
        ],
        options={
            'verbose_name': 'CRM connection',
            'verbose_name_plural': 'CRM connections',
            'db_table': 'setup_wizard_crmconnection',
        },
    ),
]

class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("setup_wizard", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations, database_operations=[])
    ]
