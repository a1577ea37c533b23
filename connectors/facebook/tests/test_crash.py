"""A real process killed while Facebook holds its answer; a real worker started after it."""

import pytest

from connectors.conftest import approve
from moderation.approval import services as approving
from moderation.drafts import services as drafting
from moderation.models import Draft
from tests import processes
from tests.conftest import link_draft


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_after_facebook_took_the_post_leaves_it_to_the_worker_which_publishes_it_once(graph, page, office, approver, tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("separate processes share the test database only on PostgreSQL")
    draft = approve(link_draft(office, page, text="Sports day is moved to Thursday 2 July."), office, approver)
    graph.fail("POST", r"/feed$", "act_then_hang")  # Facebook publishes, then its answer never comes
    platform = {"FACEBOOK_GRAPH_URL": graph.url, "CONNECTOR_TIMEOUT": "120"}
    publisher = processes.start(
        tmp_path, "shell", "-c",
        processes.IN_THE_SCHOOL + "from django.contrib.auth import get_user_model; from moderation.models import Draft; from moderation.publishing import services as publishing; "
        f"publishing.publish(Draft.objects.get(pk={draft.pk}), get_user_model().objects.get(username='approver'))",
        **platform,
    )
    try:
        processes.wait_for(lambda: graph.requests("POST", r"/feed$"), "the publish reaches Facebook", tmp_path)
    finally:
        publisher.kill()
        publisher.wait()
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHING  # left behind by the killed process
    assert len(graph.posts()) == 1

    worker = processes.start(tmp_path, "run_worker", **platform)
    try:
        processes.wait_for(lambda: Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED, "the worker settles it", tmp_path)
    finally:
        worker.terminate()
        worker.wait()
    draft.refresh_from_db()
    assert draft.publication.platform_post_id == graph.posts()[0]["id"]
    assert len(graph.requests("POST", r"/feed$")) == 1 and len(graph.posts()) == 1
    assert draft.audit_entries.filter(action="draft.wait", data__reason="interrupted").exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_publishing_a_scheduled_post_is_restarted_and_the_post_goes_out_once(graph, page, office, approver, tmp_path):
    import datetime

    from django.db import connection

    from moderation.approval.attestations import ATTESTATIONS

    if connection.vendor != "postgresql":
        pytest.skip("separate processes share the test database only on PostgreSQL")
    draft = link_draft(office, page, text="The nativity is on Friday at 2pm.",
                       publish_at=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1))
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    graph.fail("POST", r"/feed$", "act_then_hang")  # Facebook publishes, then its answer never comes
    platform = {"FACEBOOK_GRAPH_URL": graph.url, "CONNECTOR_TIMEOUT": "120"}
    first = processes.start(tmp_path, "run_worker", **platform)
    try:
        processes.wait_for(lambda: graph.requests("POST", r"/feed$"), "the scheduled publish reaches Facebook", tmp_path)
    finally:
        first.kill()
        first.wait()
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHING

    second = processes.start(tmp_path, "run_worker", **platform)
    try:
        processes.wait_for(lambda: Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED, "the restarted worker settles it", tmp_path)
    finally:
        second.terminate()
        second.wait()
    assert len(graph.requests("POST", r"/feed$")) == 1 and len(graph.posts()) == 1
    assert Draft.objects.get(pk=draft.pk).publication.platform_post_id == graph.posts()[0]["id"]
