"""Management commands that work for one school: `--school SLUG` says which (it may be left out
on an installation of one school), and everything the command does is in that school's scope."""

from django.core.management.base import BaseCommand, CommandError

from config.school.models import School
from config.school.tenancy import first_school, in_school


def chosen_school(slug: str | None) -> School:
    if slug:
        school = School.objects.filter(slug=slug).first()
        if school is None:
            raise CommandError(f"There is no school '{slug}'. The schools are: {', '.join(School.objects.values_list('slug', flat=True)) or 'none'}.")
        return school
    schools = list(School.objects.all()[:2])
    if len(schools) == 1:
        return schools[0]
    if not schools:
        raise CommandError("There is no school yet: run `python manage.py migrate` (or `add_school`) first.")
    raise CommandError("This installation has several schools: say which with --school "
                       f"({', '.join(School.objects.values_list('slug', flat=True))}).")


class SchoolCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--school", metavar="SLUG",
                            help="The school, by the short name in its addresses (needed when the installation has several).")
        return parser

    def execute(self, *args, **options):
        school = chosen_school(options.pop("school", None))
        self.school = school
        with in_school(school):
            return super().execute(*args, **options)


class ThrowawaySchoolCommand(BaseCommand):
    """A benchmark's command: it builds its own throwaway database (setup_databases) and works in
    that database's first school, which `self.school` gives once it exists."""

    @property
    def school(self) -> School:
        return first_school()

    def in_the_school(self):
        return in_school(first_school())
