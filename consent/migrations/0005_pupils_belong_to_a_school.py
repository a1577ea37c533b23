"""Each pupil's record belongs to a school; a UPN is unique within a school. Existing records belong to the first school."""

import django.db.models.deletion
from django.db import migrations, models


def first_school(apps, schema_editor):
    School = apps.get_model("school", "School")
    school = School.objects.order_by("pk").first()
    apps.get_model("consent", "Pupil").objects.all().update(school=school)


FK = dict(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")


class Migration(migrations.Migration):
    dependencies = [
        ("school", "0004_schools"),
        ("consent", "0004_year_groups_one_way"),
    ]

    operations = [
        migrations.AddField("pupil", "school", models.ForeignKey(null=True, **FK)),
        migrations.RunPython(first_school, migrations.RunPython.noop),
        migrations.AlterField("pupil", "school", models.ForeignKey(**FK)),
        migrations.AlterField("pupil", "upn", models.CharField(max_length=13, verbose_name="UPN")),
        migrations.AddConstraint("pupil", models.UniqueConstraint(fields=("school", "upn"), name="one_record_per_upn_per_school")),
    ]
