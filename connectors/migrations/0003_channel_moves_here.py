"""The school's channels move to connectors, which publish to them. The tables (the channels, their
authors and login holders) and their rows stay as they are: only Django's record changes."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def content_type_follows(apps, schema_editor):
    """The channel permissions (manage_channel, approve_channel) keep their rows and the roles that hold them."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="connectors", model="channel").exists():
        ContentType.objects.filter(app_label="moderation", model="channel").update(app_label="connectors")


class Migration(migrations.Migration):

    dependencies = [
        ('contenttypes', '0002_remove_content_type_name'),
        ('moderation', '0024_audit_trail_moves_to_the_school'),
        ('connectors', '0002_quota_uploads_bucket'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=[
            migrations.CreateModel(
                name='Channel',
                fields=[
                    ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                    ('name', models.CharField(max_length=120, unique=True)),
                    ('kind', models.CharField(choices=[('facebook', 'Facebook Page'), ('youtube', 'YouTube channel')], max_length=20)),
                    ('connector', models.CharField(default='outbox', help_text='Where posts go: the local outbox, or the platform itself once connected.', max_length=40)),
                    ('active', models.BooleanField(default=True)),
                    ('platform_account_id', models.CharField(blank=True, max_length=120, verbose_name='Page or channel id')),
                    ('dedicated_account_name', models.CharField(blank=True, help_text="The account set up only for the school's official use.", max_length=200, verbose_name='Dedicated account')),
                    ('account_email', models.EmailField(blank=True, help_text='The school address the account is registered with.', max_length=254, verbose_name='Registered email')),
                    ('parents_informed_on', models.DateField(blank=True, null=True, verbose_name='Parents and carers informed on')),
                    ('parents_informed_how', models.TextField(blank=True, help_text='For example: letter home of 4 September with the expectations for safe use.', verbose_name='How parents and carers were informed')),
                    ('youtube_privacy', models.CharField(choices=[('private', 'Private'), ('unlisted', 'Unlisted'), ('public', 'Public')], default='private', max_length=20, verbose_name='YouTube visibility')),
                    ('updated_at', models.DateTimeField(auto_now=True)),
                    ('authors', models.ManyToManyField(blank=True, related_name='authorised_channels', to=settings.AUTH_USER_MODEL, verbose_name='Staff authorised to draft posts')),
                    ('login_holders', models.ManyToManyField(blank=True, related_name='held_channels', to=settings.AUTH_USER_MODEL, verbose_name='Leadership staff who hold the login details')),
                ],
                options={
                    'db_table': 'moderation_channel',
                    'ordering': ['name'],
                    'permissions': [('manage_channel', 'Can edit a channel record'), ('approve_channel', "Can approve a channel's risk assessment")],
                },
            ),
            migrations.AlterField(
                model_name='connection',
                name='channel',
                field=models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='connection', to='connectors.channel'),
            ),
            migrations.AlterField(
                model_name='quotaday',
                name='channel',
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='quota_days', to='connectors.channel'),
            ),
        ]),
        migrations.RunPython(content_type_follows, migrations.RunPython.noop),
    ]
