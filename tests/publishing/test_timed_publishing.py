"""Timed publishing (policy section 5): an approved draft with a publish time goes out at that time,
and only if every gate passes again at that moment. The clock is moved, never waited for."""

import datetime

import pytest
import time_machine
from django.core import mail
from django_tasks_db.models import DBTaskResult

from config.school.models import AuditEntry
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.models import Draft, PublishedPost
from moderation.publishing import scheduling
from moderation.publishing import services as publishing
from moderation.upkeep import tasks
from moderation.upkeep.worker import Clock
from tests.conftest import age_risk_assessment, link_draft

START = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)
PUBLISH_AT = START + datetime.timedelta(hours=2)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def with_emails(*users):
    for user in users:
        user.email = f"{user.username}@aycliffe.kent.sch.uk"
        user.save()


def scheduled_draft(office, approver, channel, publish_at=PUBLISH_AT, **fields):
    draft = link_draft(office, channel, publish_at=publish_at, **fields)
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    return draft


def test_a_scheduled_post_publishes_at_its_time(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    clock.move_to(PUBLISH_AT - datetime.timedelta(minutes=1))
    assert scheduling.publish_due() == 0
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.APPROVED
    clock.move_to(PUBLISH_AT + datetime.timedelta(seconds=1))
    assert scheduling.publish_due() == 1
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    assert draft.publication.published_at == PUBLISH_AT + datetime.timedelta(seconds=1)
    assert draft.publication.published_by == approver  # in the name of whoever approved it for that time
    started = draft.audit_entries.get(action="draft.start_publishing")
    assert started.actor is None and "publish time" in started.summary


def test_every_gate_runs_again_at_the_publish_time(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    clock.move_to(PUBLISH_AT)
    scheduling.publish_due()
    run = Draft.objects.get(pk=draft.pk).gate_runs.first()
    assert run.phase == "publish" and run.run_at == PUBLISH_AT and run.passed


def test_a_scheduled_post_is_not_published_before_its_time_even_by_hand(clock, office, approver, facebook):
    from django.core.exceptions import ValidationError

    draft = scheduled_draft(office, approver, facebook)
    with pytest.raises(ValidationError, match="not before"):
        publishing.publish(draft, approver)


def test_a_scheduled_post_whose_risk_assessment_lapsed_is_held_and_the_author_and_approver_are_told(clock, office, approver, facebook):
    with_emails(office, approver)
    draft = scheduled_draft(office, approver, facebook)
    clock.move_to(PUBLISH_AT)
    age_risk_assessment(facebook, days=400)
    assert scheduling.publish_due() == 0
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and "channel-risk-assessed" in draft.status_note
    assert not PublishedPost.objects.exists()
    [message] = mail.outbox
    assert sorted(message.to) == ["approver@aycliffe.kent.sch.uk", "office@aycliffe.kent.sch.uk"]
    assert "Not published" in message.subject and "risk assessment" in message.body
    # A second round neither publishes nor tells them again.
    assert scheduling.publish_due() == 0 and len(mail.outbox) == 1


def test_an_approval_voided_by_an_edit_means_the_post_is_not_published_at_its_time(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    drafting.reopen(draft, office)
    clock.move_to(PUBLISH_AT + datetime.timedelta(minutes=5))
    assert scheduling.publish_due() == 0
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.DRAFT


def test_a_withdrawn_draft_is_not_published_at_its_time(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    drafting.withdraw(draft, office)
    clock.move_to(PUBLISH_AT)
    assert scheduling.publish_scheduled(draft.pk) == "no longer scheduled"
    assert not PublishedPost.objects.exists()


def test_a_draft_claimed_by_another_worker_is_left_to_it(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    clock.move_to(PUBLISH_AT)
    draft.transition("start_publishing", by=None, note="another worker")
    assert scheduling.publish_scheduled(draft.pk) == "no longer scheduled"
    assert draft.audit_entries.filter(action="draft.start_publishing").count() == 1


def test_the_worker_builds_its_publish_jobs_from_the_database(clock, office, approver, facebook):
    first = scheduled_draft(office, approver, facebook)
    second = scheduled_draft(office, approver, facebook, publish_at=PUBLISH_AT + datetime.timedelta(days=1),
                             link="https://www.aycliffe.kent.sch.uk/news/nativity")
    unscheduled = scheduled_draft(office, approver, facebook, publish_at=None, link="https://www.aycliffe.kent.sch.uk/news/fair")
    worker = Clock()
    worker.start(paused=True)
    try:
        jobs = worker.publish_jobs()
        assert set(jobs) == {first.pk, second.pk} and unscheduled.pk not in jobs
        assert jobs[first.pk].next_run_time == PUBLISH_AT
        assert {"sync", "publishing", "comments", "reviews"} <= {j.id for j in worker.scheduler.get_jobs()}
        # The database changes; the next sync follows it.
        drafting.withdraw(second, office)
        worker.sync()
        assert set(worker.publish_jobs()) == {first.pk}
    finally:
        worker.stop()


def test_the_clock_does_not_enqueue_a_post_again_while_its_task_waits_for_a_worker(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    timer = Clock()
    timer.start(paused=True)
    try:
        clock.move_to(PUBLISH_AT)
        timer.publish_jobs()[draft.pk].remove()  # its time came: the job ran once and is gone...
        timer.enqueue_publish(draft.pk)  # ...having enqueued the task
        timer.sync()  # the draft is still approved, until a worker runs the task
        assert draft.pk not in timer.publish_jobs()
        tasks.run_queued(["publishing"])
        assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED
    finally:
        timer.stop()
    assert DBTaskResult.objects.filter(task_path=scheduling.publish_at_its_time.module_path).count() == 1


def test_a_restarted_worker_rebuilds_the_same_jobs(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    before = Clock()
    before.start(paused=True)
    before.stop()  # a restart: nothing of the old scheduler is kept
    after = Clock()
    after.start(paused=True)
    try:
        assert after.publish_jobs()[draft.pk].next_run_time == PUBLISH_AT
    finally:
        after.stop()


@pytest.mark.django_db(transaction=True)
def test_the_clock_enqueues_the_publish_at_its_time_and_the_task_publishes_it_once(office, approver, facebook):
    """The real APScheduler thread, with the clock moved past the publish time instead of waited for."""
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        # The clock's two job threads and this one share SQLite's in-memory test database, which
        # answers "table is locked" rather than wait (a file, as `make run` uses, waits).
        pytest.skip("the clock's threads share the test database safely only on PostgreSQL")

    with time_machine.travel(START, tick=False) as traveller:
        draft = scheduled_draft(office, approver, facebook)
        clock = Clock()
        clock.start()
        try:
            # The rounds enqueued once at the start first: the test database (SQLite in memory,
            # shared between threads) cannot wait for a lock as a file can.
            running = clock.scheduler._lookup_executor("default")._instances  # APScheduler's count of jobs running
            for _ in range(600):
                if not any(job.id.endswith("-at-start") for job in clock.scheduler.get_jobs()) and not any(running.values()):
                    break
                time.sleep(0.1)
            assert draft.pk not in clock.publishing
            traveller.move_to(PUBLISH_AT + datetime.timedelta(seconds=1))
            clock.scheduler.wakeup()
            # The job runs in the scheduler's thread: wait for it, up to a minute, without reading
            # the database meanwhile (SQLite in memory locks a table that is being read).
            for _ in range(600):
                if draft.pk in clock.publishing:
                    break
                time.sleep(0.1)
        finally:
            clock.stop()
        assert tasks.waiting(scheduling.publish_at_its_time) == {draft.pk}
        # The clock only enqueued the task: whichever worker runs it publishes.
        assert Draft.objects.get(pk=draft.pk).status == Draft.Status.APPROVED
        scheduling.publish_at_its_time.enqueue(draft.pk)  # enqueued twice (two clocks, say): published once
        tasks.run_queued(["publishing"])
    outcomes = DBTaskResult.objects.filter(task_path=scheduling.publish_at_its_time.module_path).values_list("return_value", flat=True)
    assert sorted(outcome.split(" ")[0] for outcome in outcomes) == ["no", "published"]  # the second: "no longer scheduled"
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED
    assert PublishedPost.objects.count() == 1
    assert AuditEntry.objects.filter(draft=draft, action="draft.mark_published").count() == 1


def test_a_publish_time_already_past_is_refused_on_the_draft_form(office, facebook, client):
    client.force_login(office)
    response = client.post("/drafts/new/", {
        "channel": facebook.pk, "link": "https://www.aycliffe.kent.sch.uk/news/fair", "objective": "community",
        "intended_outcome": "Families know the date of the fair.", "publish_at": "2020-01-01T09:00",
    })
    assert response.status_code == 200 and "already passed" in response.content.decode()
    assert not Draft.objects.exists()


def test_a_scheduled_post_whose_worker_stopped_before_recording_its_delivery_is_published_by_the_next(clock, office, approver, facebook, settings):
    draft = scheduled_draft(office, approver, facebook)
    clock.move_to(PUBLISH_AT)
    # The worker marked it publishing, then was killed before it wrote a delivery record.
    draft.transition("start_publishing", by=None, note="its publish time was reached")
    assert not draft.deliveries.exists()
    clock.move_to(PUBLISH_AT + datetime.timedelta(minutes=settings.PUBLISH_STALE_MINUTES + 1))
    publishing.run_due()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    assert draft.publication.published_by == approver


def test_every_waiting_draft_has_a_next_attempt(clock, office, approver, facebook):
    draft = scheduled_draft(office, approver, facebook)
    clock.move_to(PUBLISH_AT)
    draft.transition("start_publishing", by=None, note="its publish time was reached")
    draft.transition("wait", by=None, note="Publishing was interrupted.", data={"reason": "interrupted"})
    assert publishing.retry_waiting() == 1
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED
