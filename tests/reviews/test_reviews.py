"""Annual reviews (policy section 7): reminders 30 days ahead; an overdue review blocks."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from config.school.models import AuditEntry
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.models import PolicyReview
from moderation.reviews import services as reviews
from tests.conftest import link_draft


@pytest.fixture
def head_with_email(head):
    head.email = "head@aycliffe.kent.sch.uk"
    head.save()
    return head


def test_the_headteacher_is_reminded_30_days_before_a_risk_assessment_falls_due_and_only_once(facebook, head_with_email):
    due = facebook.current_risk_assessment.expires_at(12)
    with time_machine.travel(due - datetime.timedelta(days=31), tick=False):
        assert reviews.send_reminders() == []
    with time_machine.travel(due - datetime.timedelta(days=29), tick=False):
        sent = reviews.send_reminders()
        assert reviews.send_reminders() == []  # the next hourly round, or a restarted worker
    assert any(str(facebook) in subject for subject in sent)
    reminders = [m for m in mail.outbox if str(facebook) in m.subject]
    assert len(reminders) == 1 and reminders[0].to == ["head@aycliffe.kent.sch.uk"]
    assert AuditEntry.objects.filter(action="review.reminder", channel=facebook).count() == 1


def test_an_overdue_risk_assessment_blocks_the_channel_and_the_headteacher_is_told(office, facebook, head_with_email):
    due = facebook.current_risk_assessment.expires_at(12)
    draft = link_draft(office, facebook)
    with time_machine.travel(due + datetime.timedelta(days=1), tick=False):
        sent = reviews.send_reminders()
        run = drafting.submit(draft, office)
    assert any(s.startswith("Overdue") for s in sent)
    assert not run.passed and run.results.get(gate_id="channel-risk-assessed").status == "fail"


def test_an_overdue_policy_review_blocks_every_channel(office, facebook, youtube):
    due = PolicyReview.objects.get().due_at(12)
    with time_machine.travel(due + datetime.timedelta(hours=1), tick=False):
        assert "social media policy" in pipeline.channel_problems(facebook)[0]
        assert "social media policy" in pipeline.channel_problems(youtube)[0]
        result = drafting.submit(link_draft(office, facebook), office).results.get(gate_id="channel-risk-assessed")
    assert result.status == "fail" and "annual review was due" in result.message


def test_a_school_with_no_recorded_policy_review_publishes_nothing(office, facebook):
    PolicyReview.objects.all().delete()
    result = drafting.submit(link_draft(office, facebook), office).results.get(gate_id="channel-risk-assessed")
    assert result.status == "fail" and "no recorded review" in result.message


def test_recording_the_policy_review_unblocks_the_channels(office, facebook, head, client):
    due = PolicyReview.objects.get().due_at(12)
    with time_machine.travel(due + datetime.timedelta(days=2), tick=False):
        client.force_login(head)
        assert "Overdue" in client.get("/reviews/").content.decode()
        response = client.post("/reviews/", {"version": "2027-1", "notes": "Reviewed with governors."})
        assert response.status_code == 302
        assert not any("social media policy" in problem for problem in pipeline.channel_problems(facebook))
        assert PolicyReview.objects.first().due_at(12) > timezone.now()
    assert AuditEntry.objects.filter(action="policy.reviewed", actor=head).count() == 2


def test_only_the_headteacher_records_the_policy_review(dsl, approver, client):
    for user in (dsl, approver):
        with pytest.raises(PermissionDenied):
            reviews.record_policy_review(user, version="2027-1")
    client.force_login(approver)
    assert client.get("/reviews/").status_code == 403


def test_the_home_page_tells_the_headteacher_of_a_review_falling_due(facebook, head, client):
    due = facebook.current_risk_assessment.expires_at(12)
    with time_machine.travel(due - datetime.timedelta(days=10), tick=False):
        client.force_login(head)
        page = client.get("/").content.decode()
    assert "falls due for its annual review" in page
