"""Each channel belongs to a school; names are unique within a school. Existing channels belong to the first school."""

import django.db.models.deletion
from django.db import migrations, models


def first_school(apps, schema_editor):
    School = apps.get_model("school", "School")
    school = School.objects.order_by("pk").first()
    apps.get_model("connectors", "Channel").objects.all().update(school=school)


FK = dict(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")


class Migration(migrations.Migration):
    dependencies = [
        ("school", "0004_schools"),
        ("connectors", "0003_channel_moves_here"),
    ]

    operations = [
        migrations.AddField("channel", "school", models.ForeignKey(null=True, **FK)),
        migrations.RunPython(first_school, migrations.RunPython.noop),
        migrations.AlterField("channel", "school", models.ForeignKey(**FK)),
        migrations.AlterField("channel", "name", models.CharField(max_length=120)),
        migrations.AddConstraint("channel", models.UniqueConstraint(fields=("school", "name"), name="one_channel_name_per_school")),
    ]
