"""An audit entry's channel is now connectors' Channel: the same table, so nothing in the database changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0003_channel_moves_here'),
        ('school', '0002_audit_trail'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='auditentry',
                name='channel',
                field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to='connectors.channel'),
            ),
        ]),
    ]
