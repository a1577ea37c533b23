"""Drafts, concerns, policy reviews and families' access codes belong to a school: a draft and a
concern to the school of their channel, the others to the first school."""

import django.db.models.deletion
from django.db import migrations, models


def their_school(apps, schema_editor):
    School = apps.get_model("school", "School")
    school = School.objects.order_by("pk").first()
    Channel = apps.get_model("connectors", "Channel")
    for channel in Channel.objects.all():
        apps.get_model("moderation", "Draft").objects.filter(channel=channel).update(school_id=channel.school_id)
        apps.get_model("moderation", "Concern").objects.filter(post__channel=channel).update(school_id=channel.school_id)
    for name in ("Draft", "Concern", "PolicyReview", "FamiliesAccess", "AUPAcceptance"):
        apps.get_model("moderation", name).objects.filter(school__isnull=True).update(school=school)


FK = dict(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")


class Migration(migrations.Migration):
    dependencies = [
        ("school", "0004_schools"),
        ("connectors", "0004_channels_belong_to_a_school"),
        ("moderation", "0025_channel_moves_to_connectors"),
    ]

    operations = [
        migrations.AddField("draft", "school", models.ForeignKey(null=True, **FK)),
        migrations.AddField("concern", "school", models.ForeignKey(null=True, **FK)),
        migrations.AddField("policyreview", "school", models.ForeignKey(null=True, **FK)),
        migrations.AddField("familiesaccess", "school", models.ForeignKey(null=True, **FK)),
        migrations.AddField("aupacceptance", "school", models.ForeignKey(null=True, **FK)),
        migrations.RemoveConstraint("aupacceptance", "one_acceptance_per_version"),
        migrations.RunPython(their_school, migrations.RunPython.noop),
        migrations.AlterField("draft", "school", models.ForeignKey(**FK)),
        migrations.AlterField("concern", "school", models.ForeignKey(**FK)),
        migrations.AlterField("policyreview", "school", models.ForeignKey(**FK)),
        migrations.AlterField("familiesaccess", "school", models.ForeignKey(**FK)),
        migrations.AlterField("aupacceptance", "school", models.ForeignKey(**FK)),
        migrations.AddIndex("draft", models.Index(fields=["school", "status", "updated_at"], name="drafts_of_a_school_by_status")),
        migrations.AddConstraint("aupacceptance", models.UniqueConstraint(fields=("school", "user", "version"), name="one_acceptance_per_version_per_school")),
    ]
