"""Real worker processes against one PostgreSQL database: a draft is published once, whoever runs."""

import datetime

import pytest

from config.school.models import AuditEntry
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.models import Draft, PublishedPost
from tests import processes
from tests.conftest import link_draft

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgresql_only():
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("separate processes share the test database only on PostgreSQL")


def due_draft(office, approver, channel, n):
    """Approved for a time that came while no worker ran."""
    draft = link_draft(office, channel, link=f"https://www.aycliffe.kent.sch.uk/news/{n}",
                       publish_at=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=n + 1))
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    return draft


def test_two_workers_publish_each_due_draft_once(office, approver, facebook, tmp_path):
    drafts = [due_draft(office, approver, facebook, n) for n in range(6)]
    workers = [processes.start(tmp_path, "run_worker", "--once") for _ in range(2)]
    for worker in workers:
        assert worker.wait(timeout=180) == 0, processes.logs(tmp_path)
    for draft in drafts:
        assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED, processes.logs(tmp_path)
        assert AuditEntry.objects.filter(draft=draft, action="draft.start_publishing").count() == 1
        assert AuditEntry.objects.filter(draft=draft, action="draft.mark_published").count() == 1
        assert draft.deliveries.get().attempts == 1
    assert PublishedPost.objects.count() == 6
    assert len(list((tmp_path / "outbox").glob("outbox-*"))) == 6


def test_a_restarted_worker_publishes_what_fell_due_while_it_was_down_once(office, approver, facebook, tmp_path):
    first = processes.start(tmp_path, "run_worker")
    processes.wait_for(lambda: "The worker is running" in processes.logs(tmp_path), "the first worker starts", tmp_path)
    first.kill()  # killed, not stopped: nothing of it is left to tidy up
    first.wait()
    draft = due_draft(office, approver, facebook, 1)  # its time comes while no worker runs

    second = processes.start(tmp_path, "run_worker")
    try:
        processes.wait_for(lambda: Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED, "the restarted worker publishes it", tmp_path)
    finally:
        second.terminate()
        assert second.wait(timeout=60) == 0, processes.logs(tmp_path)
    assert "The worker stopped." in processes.logs(tmp_path)
    assert PublishedPost.objects.filter(draft=draft).count() == 1
    assert AuditEntry.objects.filter(draft=draft, action="draft.start_publishing").count() == 1
