"""On PostgreSQL, the database itself keeps schools apart (config/school/wall.py): a query made in
school A's work sees and writes none of school B's rows even where it passes the scoped managers
(raw SQL, Django's base manager, a scope switched off on one manager)."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from config.school import wall
from config.school.tenancy import in_school, nowhere, scopes_disabled
from consent.models import Pupil
from moderation.models import Draft, MediaFile
from moderation.upkeep import health
from tests.conftest import link_draft
from tests.school.test_isolation import SECRET, school_b, world_b  # noqa: F401 - the fixtures: school B and its data

pytestmark = [pytest.mark.skipif(connection.vendor != "postgresql", reason="row-level security is PostgreSQL's"),
              pytest.mark.django_db]


def count(sql, *params) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.fixture
def two_schools(world_b, school, office, facebook):  # noqa: F811
    """A's draft and B's drafts, B's with a photo: each school has rows in the walled tables."""
    link_draft(office, facebook)
    return school, world_b["school"]


def test_every_table_of_a_scoped_model_has_its_policy():
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_policies WHERE policyname = %s", [wall.POLICY])
        policies = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT relname FROM pg_class WHERE relrowsecurity AND relforcerowsecurity")
        forced = {row[0] for row in cursor.fetchall()}
    tables = {table for table, _ in wall.walled_tables()}
    assert {"moderation_draft", "moderation_mediafile", "consent_pupil", "moderation_concern"} <= tables
    assert tables <= policies and tables <= forced


def test_the_suite_connects_as_a_role_the_policies_apply_to():
    assert wall.state() == "up"
    assert health.checks()["school_wall"] == {"ok": True, "state": "up"}


def test_raw_sql_in_one_schools_work_sees_none_of_anothers_rows(two_schools):
    a, b = two_schools
    with scopes_disabled():
        every = count("SELECT count(*) FROM moderation_draft")
        of_b = Draft.objects.filter(school=b).count()
    with in_school(a):
        assert count("SELECT count(*) FROM moderation_draft") == every - of_b
        assert count("SELECT count(*) FROM moderation_draft WHERE text LIKE %s", f"%{SECRET}%") == 0


def test_a_managers_scope_switched_off_by_mistake_still_sees_only_the_schools_rows(two_schools):
    a, b = two_schools
    with in_school(a):
        assert not Draft.objects.with_scopes_disabled().filter(school=b).exists()
        assert not Draft._base_manager.filter(school=b).exists()
        assert Draft._base_manager.filter(school=a).exists()


def test_a_photo_is_walled_through_its_draft(two_schools, world_b):  # noqa: F811
    a, b = two_schools
    with in_school(a):
        assert not MediaFile._base_manager.filter(pk=world_b["media"].pk).exists()
        assert count("SELECT count(*) FROM moderation_mediafile WHERE id = %s", world_b["media"].pk) == 0
    with in_school(b):
        assert MediaFile._base_manager.filter(pk=world_b["media"].pk).exists()


def test_another_schools_row_cannot_be_changed_or_written_from_one_schools_work(two_schools, world_b):  # noqa: F811
    a, b = two_schools
    with in_school(a):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE moderation_draft SET text = 'changed' WHERE id = %s", [world_b["draft"].pk])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM consent_pupil WHERE id = %s", [world_b["pupil"].pk])
            assert cursor.rowcount == 0
        with pytest.raises(DatabaseError, match="row-level security"), transaction.atomic():
            Draft._base_manager.filter(school=a).update(school=b)
    with in_school(b):
        assert Draft.objects.get(pk=world_b["draft"].pk).text != "changed"


def test_a_visitor_outside_any_school_sees_no_schools_rows(two_schools):
    with nowhere():
        assert count("SELECT count(*) FROM moderation_draft") == 0


def test_the_installations_own_work_sees_every_school(two_schools):
    a, b = two_schools
    with scopes_disabled():
        assert {a.pk, b.pk} <= set(Draft.objects.values_list("school", flat=True))


@pytest.mark.django_db(transaction=True)
def test_after_a_rolled_back_transaction_the_database_is_told_the_school_again(two_schools):
    a, b = two_schools
    with in_school(b):
        b_drafts = Draft.objects.count()
    with in_school(a):
        a_drafts = Draft.objects.count()
    with in_school(b):
        # B's work in a transaction that fails: PostgreSQL undoes the setting, back to A's.
        with pytest.raises(RuntimeError), transaction.atomic():
            assert Draft.objects.count() == b_drafts
            raise RuntimeError("the work failed")
        assert Draft.objects.count() == b_drafts
    with in_school(a):
        assert Draft.objects.count() == a_drafts


def test_a_check_of_the_database_says_nothing_when_the_wall_is_up(capsys):
    call_command("check", "--database", "default")
    assert "school.W001" not in capsys.readouterr().err


def test_a_connection_that_says_nothing_is_not_walled(two_schools):
    # An older release still running while an upgrade is rolled out sets nothing: walled, its
    # worker's tidy round would find no row naming any school's files, and delete them all.
    a, b = two_schools
    with scopes_disabled():
        every = Draft.objects.count()
    with in_school(a):
        Draft.objects.count()  # the connection says A
        with connection.connection.cursor() as cursor:
            cursor.execute("RESET app.school")
            cursor.execute("SELECT count(*) FROM moderation_draft")
            assert cursor.fetchone()[0] == every
        connection.school_wall = None


def test_an_error_in_another_schools_work_inside_a_transaction_is_the_error_raised(two_schools, world_b):  # noqa: F811
    a, b = two_schools
    with in_school(a):
        Draft.objects.count()
        with pytest.raises(IntegrityError), transaction.atomic(), in_school(b):
            Pupil.objects.create(upn=world_b["pupil"].upn, legal_forename="Twin", legal_surname="Record")
        assert Draft.objects.exists()  # the outer transaction goes on, in A's scope


def test_the_wall_is_rebuilt_only_where_it_changed():
    wall.build()
    with CaptureQueriesContext(connection) as queries:
        assert wall.build()
    assert not [q["sql"] for q in queries.captured_queries if "ALTER TABLE" in q["sql"] or "CREATE" in q["sql"]]


def test_a_table_that_no_longer_holds_a_schools_data_loses_its_policy():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE wall_probe (id int)")
        cursor.execute(f"CREATE POLICY {wall.POLICY} ON wall_probe USING (false)")
        cursor.execute("ALTER TABLE wall_probe ENABLE ROW LEVEL SECURITY")
        wall.build()
        cursor.execute("SELECT relrowsecurity FROM pg_class WHERE relname = 'wall_probe'")
        assert cursor.fetchone() == (False,)
        cursor.execute("SELECT count(*) FROM pg_policies WHERE tablename = 'wall_probe'")
        assert cursor.fetchone() == (0,)
