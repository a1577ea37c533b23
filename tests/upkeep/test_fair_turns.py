"""Fair turns between schools: one school's big upload does not hold another school's photo
behind all of it."""

import pytest
from django_tasks_db.models import DBTaskResult

from config.school import roles
from config.school.models import School
from config.school.tenancy import in_school, scopes_disabled
from moderation.demo.sample import complete_channel
from moderation.drafts import analysis
from moderation.models import MediaFile
from moderation.upkeep import tasks
from tests.conftest import make_user
from tests.upkeep.test_redis_queue import redis_queue  # noqa: F401 (a fixture)
from tests.upkeep.test_tasks import upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_the_background(settings):
    settings.MEDIA_ANALYSIS = "background"


@pytest.fixture
def other_school():
    school = School.objects.create(name="Bramley Primary School", slug="bramley", email_domains=["aycliffe.kent.sch.uk"])
    head = make_user("b-head", roles.HEADTEACHER, school=school)
    office = make_user("b-office", roles.OFFICE_STAFF, school=school)
    with in_school(school):
        channel = complete_channel(head, authors=[office])
    return school, office, channel


def state(media) -> str:
    with scopes_disabled():  # whichever school's: on PostgreSQL the database's wall opens too
        return MediaFile.objects.get(pk=media.pk).analysis


def test_a_schools_one_photo_is_analysed_before_the_rest_of_another_schools_big_upload(office, facebook, other_school):
    big = [upload(office, facebook) for _ in range(4)]
    school, b_office, b_channel = other_school
    with in_school(school):
        single = upload(b_office, b_channel)
    tasks.run_queued(("analysis",), limit=2)
    # The big upload's first photo had nothing of its school ahead of it, nor did the single photo:
    # both went first; the big upload's other photos wait their turn.
    assert state(big[0]) == state(single) == MediaFile.Analysis.DONE
    assert [state(m) for m in big[1:]] == [MediaFile.Analysis.QUEUED] * 3


def test_each_further_file_of_a_school_waits_one_step_more(office, facebook):
    files = [upload(office, facebook) for _ in range(3)]
    priorities = [DBTaskResult.objects.get(args_kwargs__args=[m.pk]).priority for m in files]
    assert priorities == [100, -1, -2]


def test_a_file_queued_again_takes_its_turn_like_a_new_one(office, facebook):
    upload(office, facebook)
    DBTaskResult.objects.all().delete()
    assert analysis.give_forgotten_tasks() == 1
    assert DBTaskResult.objects.get().priority == 100


def test_on_redis_the_school_whose_last_turn_is_oldest_is_handed_over_next():
    # (id, school), oldest first; 5 already has a task; school 1 had the last turn, school 3 none yet.
    rows = [(2, 1), (3, 1), (4, 2), (5, 1), (6, 3), (7, 2), (8, 3)]
    assert tasks.in_turns(rows, held={5}, last_turns={1: 9, 2: 4}) == [(6, 3), (4, 2), (2, 1), (8, 3), (7, 2), (3, 1)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("redis_queue")
def test_on_redis_a_schools_one_photo_is_handed_to_the_queue_before_the_rest_of_a_big_upload(office, facebook, other_school):
    big = [upload(office, facebook) for _ in range(6)]
    school, b_office, b_channel = other_school
    with in_school(school):
        single = upload(b_office, b_channel)
    # Redis holds a short window; the rest wait in the database, in their state.
    assert tasks.waiting(analysis.analyse) == {big[0].pk, big[1].pk}
    tasks.run_queued(("analysis",), limit=3)
    # As the first photo ended, the single photo took its place, before the big upload's others.
    assert [state(m) for m in big[:2]] + [state(single)] == [MediaFile.Analysis.DONE] * 3
    assert [state(m) for m in big[2:]] == [MediaFile.Analysis.QUEUED] * 4
