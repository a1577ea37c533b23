"""Drafts, risk assessments and published posts point at connectors' Channel, the same table as
before; moderation no longer holds the model. Nothing in the database changes."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('connectors', '0003_channel_moves_here'),
        ('moderation', '0024_audit_trail_moves_to_the_school'),
        ('school', '0003_audit_entries_name_channels_in_connectors'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.AlterField(
                model_name='draft',
                name='channel',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='drafts', to='connectors.channel'),
            ),
            migrations.AlterField(
                model_name='riskassessment',
                name='channel',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='risk_assessments', to='connectors.channel'),
            ),
            migrations.AlterField(
                model_name='publishedpost',
                name='channel',
                field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='publications', to='connectors.channel'),
            ),
            migrations.DeleteModel(
                name='Channel',
            ),
        ]),
    ]
