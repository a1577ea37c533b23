"""Schools: one installation may serve many. The school every existing row belongs to is made
from the SCHOOL_* settings (a single school's installation needs no step), and the roles people
held become roles in that school."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.core.management.color import no_style
from django.db import migrations, models

from config.school.tenancy import defaults_from_settings

SCHOOL_ROLES = ("Office staff", "Approver", "Headteacher", "DSL", "Register keeper")


def first_school(apps, schema_editor):
    School = apps.get_model("school", "School")
    Membership = apps.get_model("school", "Membership")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    school = School.objects.order_by("pk").first() or School.objects.create(**defaults_from_settings())
    for user in User.objects.all():
        for group in user.groups.filter(name__in=SCHOOL_ROLES):
            Membership.objects.get_or_create(user=user, school=school, role=group)
            user.groups.remove(group)
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:  # audit entries refuse every UPDATE (migration moderation 0014): this one only adds their school
        schema_editor.execute("ALTER TABLE moderation_auditentry DISABLE TRIGGER audit_entries_are_history")
    for name in ("AuditChainHead", "AuditEntry", "AuditSeal"):
        apps.get_model("school", name).objects.all().update(school=school)
    if postgresql:
        schema_editor.execute("ALTER TABLE moderation_auditentry ENABLE TRIGGER audit_entries_are_history")
    # The one head there was had been written with id 1 by hand, which PostgreSQL's sequence never
    # saw: the next school's head would take id 1 again. Set the sequence past it.
    head = apps.get_model("school", "AuditChainHead")
    with schema_editor.connection.cursor() as cursor:
        for sql in schema_editor.connection.ops.sequence_reset_sql(no_style(), [head]):
            cursor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("school", "0003_audit_entries_name_channels_in_connectors"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="School",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=200)),
                ("slug", models.SlugField(max_length=60, unique=True)),
                ("email_domains", models.JSONField(blank=True, default=list)),
                ("allow_youtube_unlisted", models.BooleanField(default=False)),
                ("aup_version", models.CharField(default="2026-1", max_length=40)),
                ("aup_url", models.URLField(blank=True)),
                ("risk_assessment_months", models.PositiveSmallIntegerField(default=12)),
                ("address", models.TextField(blank=True)),
                ("youtube_made_for_kids", models.BooleanField(default=False)),
                ("phones", models.JSONField(blank=True, default=list)),
                ("emails", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={"ordering": ["name", "pk"]},
        ),
        migrations.CreateModel(
            name="Membership",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("role", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="memberships", to="auth.group")),
                ("school", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to="school.school")),
                ("user", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="memberships", to=settings.AUTH_USER_MODEL)),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("user", "school", "role"), name="one_role_once_per_school")]},
        ),
        migrations.AddField("auditchainhead", "school", models.OneToOneField(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")),
        migrations.AddField("auditentry", "school", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")),
        migrations.AddField("auditseal", "school", models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")),
        migrations.RunPython(first_school, migrations.RunPython.noop),
        migrations.AlterField("auditchainhead", "school", models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")),
        migrations.AlterField("auditentry", "school", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")),
        migrations.AlterField("auditseal", "school", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="+", to="school.school")),
    ]
