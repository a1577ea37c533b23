"""Publishing: the gates again at the moment of publishing, once only, at its time, recorded."""

import pytest
from django.core.exceptions import ValidationError

from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.models import Draft, GateRun, IllegalTransition, PublishedPost
from moderation.publishing import services as publishing
from moderation.reviews import services as reviews
from tests.conftest import age_risk_assessment, link_draft, results_by_gate


def test_content_changed_behind_an_approval_is_not_published(approved_draft, approver):
    # Changed without going through the product: the approval's hash no longer matches.
    Draft.objects.filter(pk=approved_draft.pk).update(link="https://example.com/changed")
    approved_draft.refresh_from_db()
    with pytest.raises(publishing.PublishRefused, match="second-colleague"):
        publishing.publish(approved_draft, approver)
    approved_draft.refresh_from_db()
    assert approved_draft.status == Draft.Status.HELD
    assert not PublishedPost.objects.exists()


def test_publishing_rechecks_the_gates_and_refuses_when_the_risk_assessment_expired_after_approval(approved_draft, approver, facebook):
    age_risk_assessment(facebook, days=366)
    with pytest.raises(publishing.PublishRefused, match="channel-risk-assessed"):
        publishing.publish(approved_draft, approver)
    approved_draft.refresh_from_db()
    assert approved_draft.status == Draft.Status.HELD
    assert "expired" in approved_draft.status_note
    run = approved_draft.gate_runs.filter(phase=GateRun.Phase.PUBLISH).get()
    assert results_by_gate(run)["channel-risk-assessed"].status == "fail"
    assert not PublishedPost.objects.exists()


def test_a_held_draft_publishes_once_the_headteacher_renews_the_risk_assessment(approved_draft, approver, head, facebook):
    age_risk_assessment(facebook, days=400)
    with pytest.raises(publishing.PublishRefused):
        publishing.publish(approved_draft, approver)
    reviews.approve_risk_assessment(facebook, head, summary="Reviewed for another year.")
    post = publishing.publish(approved_draft, approver)
    assert post.platform_post_id.startswith("outbox-")


def test_publishing_writes_the_post_to_the_outbox_and_records_who_did_what(approved_draft, approver, office, data_dir):
    post = publishing.publish(approved_draft, approver)
    approved_draft.refresh_from_db()
    assert approved_draft.status == Draft.Status.PUBLISHED
    assert (data_dir / "outbox" / post.platform_post_id / "post.json").is_file()
    assert post.published_by == approver
    assert post.approved_by == approver
    assert post.draft.author == office
    assert post.gate_run.passed and post.gate_run.phase == GateRun.Phase.PUBLISH
    assert all(r.status == "pass" for r in post.gate_run.results.all())


def test_a_draft_cannot_be_published_twice_at_once(approved_draft, approver):
    first, second = Draft.objects.get(pk=approved_draft.pk), Draft.objects.get(pk=approved_draft.pk)
    first.transition("start_publishing", by=approver)
    with pytest.raises(IllegalTransition):
        second.transition("start_publishing", by=approver)


def test_a_scheduled_draft_is_not_published_before_its_time(office, approver, facebook):
    from datetime import timedelta

    from django.utils import timezone

    draft = link_draft(office, facebook, publish_at=timezone.now() + timedelta(days=1))
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    with pytest.raises(ValidationError, match="not before"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED


def test_an_approver_cannot_publish_a_draft_that_was_never_approved(office, approver, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    with pytest.raises(IllegalTransition):
        publishing.publish(draft, approver)
