"""python manage.py bench_tenancy: what keeping many schools apart costs, in a throwaway database.

Rows carry their school and every query is scoped to one (django-scopes). This measures:
- one school's pages (the approval queue, a draft, the published log) on an installation of that
  school alone, and the same pages once it is one of 50 schools sharing 10,000 drafts;
- on PostgreSQL, the same pages with the database's own wall between schools (row-level security,
  config/school/wall.py) and without it, as before;
- how long one database's migrations take: a schema per school (django-tenants) runs them once
  for each school at every upgrade, and once more for each school added.
"""

import logging
import statistics
import time
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import setup_databases, teardown_databases

from config.school import roles, wall
from config.school.commands import ThrowawaySchoolCommand
from config.school.models import School
from config.school.tenancy import in_school, scopes_disabled
from moderation.accounts import services as accounts
from moderation.demo.sample import complete_channel
from moderation.models import Draft

DRAFTS_PER_SCHOOL = 200
SCHOOLS = 50
REQUESTS = 60


class Command(ThrowawaySchoolCommand):
    help = "Measure what keeping many schools apart costs a school's pages."

    def handle(self, *args, **options):
        logging.disable(logging.WARNING)
        started = time.perf_counter()
        state = setup_databases(verbosity=0, interactive=False)
        migrations = time.perf_counter() - started
        try:
            with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"], ALLOWED_HOSTS=["testserver"],
                                   STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
                self.run(migrations)
        finally:
            teardown_databases(state, verbosity=0)

    def school_with_drafts(self, school, n):
        """A school with its headteacher, office, approver, a channel and n drafts waiting for approval."""
        User = get_user_model()
        people = {}
        for role, name in ((roles.HEADTEACHER, "head"), (roles.OFFICE_STAFF, "office"), (roles.APPROVER, "approver")):
            user = User.objects.create_user(f"{name}-{school.slug}", password="bench-password-2026")
            roles.give_role(user, school, role)
            people[name] = user
        with in_school(school):
            for user in people.values():
                accounts.accept_aup(user)
            channel = complete_channel(people["head"], name=f"{school.name} Facebook", authors=[people["office"]])
            Draft.objects.bulk_create(
                Draft(school=school, channel=channel, author=people["office"], status=Draft.Status.AWAITING_APPROVAL,
                      link=f"https://example.org/{school.slug}/{i}", objective="community", intended_outcome="Families read it.")
                for i in range(n)
            )
            draft = Draft.objects.order_by("pk").first()
        return people, draft

    def pages(self, people, draft) -> dict:
        """Milliseconds per request (median) of one school's headteacher on three pages."""
        client = Client()
        client.force_login(people["head"], "config.school.backends.SchoolRolesBackend")
        timings = {}
        for name, address in (("queue", "/queue/"), ("draft", f"/drafts/{draft.pk}/"), ("log", "/log/")):
            for _ in range(5):  # templates compiled, caches warm
                client.get(address)
            times = []
            for _ in range(REQUESTS):
                started = time.perf_counter()
                response = client.get(address)
                times.append(1000 * (time.perf_counter() - started))
                assert response.status_code in (200, 302), (address, response.status_code)
            timings[name] = statistics.median(times)
        return timings

    def query(self, school) -> float:
        """Microseconds for the approval queue's count in that school's scope (median of 500)."""
        times = []
        with in_school(school):
            for _ in range(500):
                started = time.perf_counter()
                Draft.objects.filter(status=Draft.Status.AWAITING_APPROVAL).count()
                times.append(1e6 * (time.perf_counter() - started))
        return statistics.median(times)

    def run(self, migrations):
        first = School.objects.order_by("pk").first()
        people, draft = self.school_with_drafts(first, DRAFTS_PER_SCHOOL)
        alone = self.pages_without_second_factor(people, draft)
        alone_query = self.query(first)
        for n in range(1, SCHOOLS):
            school = School.objects.create(name=f"Bench school {n}", slug=f"bench-{n}")
            self.school_with_drafts(school, DRAFTS_PER_SCHOOL)
        with scopes_disabled():
            total = Draft.objects.count()
        shared = self.pages_without_second_factor(people, draft)
        shared_query = self.query(first)
        out = self.stdout.write
        out(f"Keeping schools apart ({connection.vendor}): one school's pages alone, and as one of {SCHOOLS} schools "
            f"sharing {total:,} drafts (median of {REQUESTS} requests each)")
        for name in alone:
            out(f"  {name:6} page: {alone[name]:6.1f} ms alone, {shared[name]:6.1f} ms among {SCHOOLS} schools")
        out(f"  the queue's count, scoped to the school: {alone_query:.0f} µs alone, {shared_query:.0f} µs among {SCHOOLS} schools")
        if connection.vendor == "postgresql":
            self.the_walls_cost(people, draft, first, shared, shared_query)
        out(f"One database's migrations: {migrations:.1f} s. A schema per school (django-tenants) runs them for each "
            f"school at every upgrade: about {migrations * SCHOOLS / 60:.1f} minutes for {SCHOOLS} schools; rows scoped "
            "to their school run them once. django-tenants also needs PostgreSQL, which a school's own installation on "
            "SQLite does not have.")

    def the_walls_cost(self, people, draft, school, shared, shared_query):
        state = wall.state()
        if state != "up":
            self.stdout.write(f"  PostgreSQL's wall between schools is {state}: its cost is not measured.")
            return
        with self.without_the_wall():
            before = self.pages_without_second_factor(people, draft)
            before_query = self.query(school)
        self.stdout.write(f"  among {SCHOOLS} schools, without PostgreSQL's wall (before) and with it (row-level security):")
        for name in before:
            self.stdout.write(f"  {name:6} page: {before[name]:6.1f} ms without, {shared[name]:6.1f} ms with")
        self.stdout.write(f"  the queue's count: {before_query:.0f} µs without, {shared_query:.0f} µs with")

    @contextmanager
    def without_the_wall(self):
        """Row-level security off on every walled table, and the connection no longer setting app.school."""
        with connection.cursor() as cursor:
            for table, _ in wall.walled_tables():
                cursor.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
        connection.execute_wrappers.remove(wall.tell_the_database)
        try:
            yield
        finally:
            connection.execute_wrappers.append(wall.tell_the_database)
            wall.build()

    def pages_without_second_factor(self, people, draft):
        # The approver's second factor is tested elsewhere; here it would only add a redirect.
        with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if "SecondFactor" not in m]):
            return self.pages(people, draft)
