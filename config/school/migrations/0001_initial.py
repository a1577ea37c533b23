"""The school's base app takes over the notices table from moderation (which created it): the
table and its rows stay as they are."""

import django.utils.timezone
from django.db import migrations, models


def content_type_follows(apps, schema_editor):
    """Permissions and anything else pointing at the model's content type keep pointing at it."""
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="school", model="notice").exists():
        ContentType.objects.filter(app_label="moderation", model="notice").update(app_label="school")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("moderation", "0023_notice_moves_to_the_school"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Notice",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("key", models.CharField(max_length=200, unique=True)),
                        ("sent_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("subject", models.CharField(max_length=300)),
                    ],
                    options={"db_table": "moderation_notice"},
                ),
            ],
        ),
        migrations.RunPython(content_type_follows, migrations.RunPython.noop),
    ]
