# The failed-attempt log is recreated rather than altered: its rows are throttling state that
# expires within minutes, and the old ones (one hash per scope) cannot be split into an address
# and a user name.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0002_webservicekey_failedattempt'),
    ]

    operations = [
        migrations.DeleteModel(
            name='FailedAttempt',
        ),
        migrations.CreateModel(
            name='FailedAttempt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('service', models.CharField(max_length=16, verbose_name='service')),
                ('address', models.CharField(max_length=64, verbose_name='client address hash')),
                ('username', models.CharField(max_length=64, verbose_name='user name hash')),
                ('created_at', models.DateTimeField(db_index=True, verbose_name='created at')),
            ],
            options={
                'verbose_name': 'failed attempt',
                'verbose_name_plural': 'failed attempts',
                'indexes': [
                    models.Index(fields=['service', 'address', 'created_at'], name='accounts_failed_address_time'),
                    models.Index(fields=['service', 'address', 'username', 'created_at'], name='accounts_failed_pair_time'),
                ],
            },
        ),
    ]
