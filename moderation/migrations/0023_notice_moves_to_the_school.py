"""Notices move to the school's base app (config.school). The table stays where it is: only
Django's record of which app holds the model changes, so no row is copied or lost."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("moderation", "0022_gate_run_after_a_decision")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[migrations.DeleteModel(name="Notice")]),
    ]
