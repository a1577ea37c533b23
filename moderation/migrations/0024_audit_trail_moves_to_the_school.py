"""The audit trail (entries, the chain's head, the seals) moves to the school's base app. The
tables, their rows and the database's guards on them stay exactly as they are: only Django's
record of which app holds the models changes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("moderation", "0023_notice_moves_to_the_school")]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.DeleteModel(name="AuditEntry"),
            migrations.DeleteModel(name="AuditSeal"),
            migrations.DeleteModel(name="AuditChainHead"),
        ]),
    ]
