"""The school's base app takes over the audit trail's tables from moderation (which created them):
tables, rows and hash chain stay exactly as they are."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def content_types_follow(apps, schema_editor):
    """Permissions and anything else pointing at the models' content types keep pointing at them."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    for model in ("auditentry", "auditseal", "auditchainhead"):
        if not ContentType.objects.filter(app_label="school", model=model).exists():
            ContentType.objects.filter(app_label="moderation", model=model).update(app_label="school")


class Migration(migrations.Migration):

    dependencies = [
        ('moderation', '0024_audit_trail_moves_to_the_school'),
        ('school', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
        migrations.CreateModel(
            name='AuditChainHead',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_entry_id', models.BigIntegerField(null=True)),
                ('last_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', max_length=64)),
            ],
            options={
                'db_table': 'moderation_auditchainhead',
            },
        ),
        migrations.CreateModel(
            name='AuditEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('action', models.CharField(max_length=60)),
                ('summary', models.TextField()),
                ('data', models.JSONField(blank=True, default=dict)),
                ('previous_hash', models.CharField(default='0000000000000000000000000000000000000000000000000000000000000000', editable=False, max_length=64)),
                ('entry_hash', models.CharField(blank=True, editable=False, max_length=64)),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('channel', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to='moderation.channel')),
                ('draft', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='audit_entries', to='moderation.draft')),
            ],
            options={
                'verbose_name_plural': 'audit entries',
                'db_table': 'moderation_auditentry',
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.CreateModel(
            name='AuditSeal',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('taken_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('entry_id', models.BigIntegerField()),
                ('entry_hash', models.CharField(max_length=64)),
                ('entries', models.PositiveIntegerField()),
                ('sent_to', models.TextField(blank=True)),
                ('taken_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'moderation_auditseal',
                'ordering': ['-taken_at', '-id'],
            },
        ),
        ]),
        migrations.RunPython(content_types_follow, migrations.RunPython.noop),
    ]
