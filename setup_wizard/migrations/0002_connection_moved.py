"""The CRM connection's models now belong to the `connection` app (state only: its tables stay
and are renamed by connection.0002)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("setup_wizard", "0001_initial"),
        ("connection", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ConnectionChange"),
                migrations.DeleteModel(name="CrmConnection"),
            ],
            database_operations=[],
        )
    ]
