from django.db import migrations


def one_way_of_writing_each_year(apps, schema_editor):
    """"4" and "Year 4" become "Year 4", "R" "Reception" (as imports now write them), so that the
    next import renames nobody. A value that is not a year group is left as it was."""
    from consent.register_import import year_group

    Pupil = apps.get_model("consent", "Pupil")
    for pupil in Pupil.objects.exclude(year_group="").only("pk", "year_group"):
        try:
            canonical = year_group(pupil.year_group)
        except ValueError:
            continue
        if canonical != pupil.year_group:
            Pupil.objects.filter(pk=pupil.pk).update(year_group=canonical)


class Migration(migrations.Migration):

    dependencies = [("consent", "0003_faceencoding_model")]

    operations = [migrations.RunPython(one_way_of_writing_each_year, migrations.RunPython.noop)]
