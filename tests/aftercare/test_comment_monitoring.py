"""Comments on published posts (policy section 5, last bullet): read on a schedule, checked with the
text gates, and anything of concern raised to the DSL and the headteacher. Nothing is ever sent back."""

import datetime
import json

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from config.school.models import AuditEntry
from consent.models import Pupil
from moderation.aftercare import monitoring
from moderation.approval import services as approving
from moderation.drafts import services as drafting
from moderation.models import PlatformComment
from moderation.publishing import services as publishing


def comment_on(post, *comments):
    """Comments as the outbox's platform reports them, beside the post."""
    from django.conf import settings

    folder = settings.OUTBOX_DIR / post.platform_post_id
    existing = json.loads((folder / "comments.json").read_text()) if (folder / "comments.json").exists() else []
    for n, (author, text) in enumerate(comments, start=len(existing) + 1):
        existing.append({"id": f"c{n}", "author": author, "text": text, "created_at": "2026-12-01T09:00:00+00:00"})
    (folder / "comments.json").write_text(json.dumps(existing))


def test_a_concerning_comment_reaches_the_dsl_and_the_headteacher(post, dsl, client):
    comment_on(post, ("A parent", "Whoever let this happen is a useless fucking idiot."))
    [raised] = monitoring.read_comments()
    assert raised.status == PlatformComment.Status.CONCERN and raised.reasons[0]["kind"] == "language"
    [message] = mail.outbox
    assert sorted(message.to) == ["dsl@aycliffe.kent.sch.uk", "head@aycliffe.kent.sch.uk"]
    assert "useless" in message.body and "has not replied" in message.body
    assert AuditEntry.objects.filter(action="comment.concern", draft=post.draft).exists()
    client.force_login(dsl)
    assert "1 comment of concern" in client.get("/").content.decode()
    assert "useless" in client.get("/concerns/").content.decode()


@pytest.mark.parametrize("text", [
    "I'll batter that kid if he touches my son again",
    "The caretaker is a paedo",
    "That boy in Year 5 is a spaz",
    "Muzzie",
])
def test_a_threat_an_insult_or_a_slur_in_a_comment_is_raised_by_the_same_check_as_a_post(post, text):
    comment_on(post, ("A parent", text))
    [raised] = monitoring.read_comments()
    assert [r["kind"] for r in raised.reasons] == ["language"]


def test_a_comment_naming_a_pupil_is_raised(post):
    Pupil.objects.create(upn="A123456789012", legal_forename="Ava", legal_surname="Smith", year_group="Year 4")
    comment_on(post, ("A parent", "Lovely to see Ava Smith at the front!"))
    [raised] = monitoring.read_comments()
    assert [r["kind"] for r in raised.reasons] == ["pupil-name"] and raised.reasons[0]["text"] == "Ava Smith"


def test_a_comment_giving_personal_data_is_raised(post):
    comment_on(post, ("A parent", "Call me on 07700 900123 about the lost coat."))
    [raised] = monitoring.read_comments()
    assert raised.reasons[0]["kind"] == "personal-data"


@pytest.mark.parametrize("text", [
    "I'm 9 and I was in this!!",
    "im in year 4 and my teacher is the best",
    "can i be in the video next time",
    "follow me on my tiktok",
])
def test_a_comment_that_reads_as_a_childs_is_raised(post, text):
    comment_on(post, ("Kid", text))
    [raised] = monitoring.read_comments()
    assert "child" in {r["kind"] for r in raised.reasons}


def test_a_comment_whose_author_has_a_pupils_name_is_raised_as_possibly_a_child(post):
    Pupil.objects.create(upn="A123456789013", legal_forename="Noah", legal_surname="Jones")
    comment_on(post, ("Noah Jones", "cool"))
    [raised] = monitoring.read_comments()
    assert raised.reasons[0]["kind"] == "child"


@pytest.mark.parametrize("text", [
    "Lovely photos, well done everyone!",
    "Thank you for organising this, the children loved it.",
    "I am 5 minutes late for pick-up, sorry!",
    "What time does the fair start? I'm 10 mins away.",
    "So proud of our gay and lesbian families at the Pride picnic.",
])
def test_an_ordinary_comment_is_kept_but_not_raised(post, text):
    comment_on(post, ("A parent", text))
    assert monitoring.read_comments() == []
    assert PlatformComment.objects.get().status == PlatformComment.Status.CLEAR
    assert mail.outbox == []


def test_each_comment_is_kept_and_raised_once_across_rounds(post):
    comment_on(post, ("A parent", "You are all liars and thieves."))
    assert len(monitoring.read_comments()) == 1
    assert monitoring.read_comments() == []
    comment_on(post, ("Another parent", "Great day!"))
    assert monitoring.read_comments() == []
    assert PlatformComment.objects.count() == 2 and len(mail.outbox) == 1


def test_a_post_whose_comments_cannot_be_read_says_so_and_the_others_are_read(post, approver, office, facebook):
    from moderation.approval.attestations import ATTESTATIONS
    from tests.conftest import link_draft

    other = link_draft(office, facebook, link="https://www.aycliffe.kent.sch.uk/news/other")
    drafting.submit(other, office)
    approving.approve(other, approver, dict(ATTESTATIONS))
    second = publishing.publish(other, approver)
    from django.conf import settings

    comment_on(second, ("A parent", "You are all liars."))
    for broken in ("not json", '[{"author": "A comment with no id"}]'):
        PlatformComment.objects.all().delete()
        (settings.OUTBOX_DIR / post.platform_post_id / "comments.json").write_text(broken)
        assert len(monitoring.read_comments()) == 1, broken
        post.refresh_from_db()
        assert post.comments_error.startswith("Comments not read") and post.comments_read_at is None, broken


def test_posts_older_than_the_watch_window_or_taken_down_are_not_read(post, settings):
    comment_on(post, ("A parent", "You are all liars."))
    later = post.published_at + datetime.timedelta(days=settings.COMMENT_MONITOR_DAYS + 1)
    assert monitoring.read_comments(now=later) == []
    type(post).objects.filter(pk=post.pk).update(taken_down_at=post.published_at)
    assert monitoring.read_comments() == []


def test_the_dsl_records_what_was_done_about_a_comment(post, dsl):
    comment_on(post, ("A parent", "You are all liars."))
    [raised] = monitoring.read_comments()
    with pytest.raises(ValidationError):
        monitoring.deal_with(raised, dsl, "ok")
    monitoring.deal_with(raised, dsl, "Spoke to the parent by phone; comment hidden on the Page.")
    assert raised.status == PlatformComment.Status.DEALT_WITH and raised.dealt_with_by == dsl
    assert AuditEntry.objects.filter(action="comment.dealt_with", actor=dsl).exists()


def test_office_staff_cannot_deal_with_a_comment_of_concern(post, office):
    from django.core.exceptions import PermissionDenied

    comment_on(post, ("A parent", "You are all liars."))
    [raised] = monitoring.read_comments()
    with pytest.raises(PermissionDenied):
        monitoring.deal_with(raised, office, "I told them off online.")


def test_a_mail_server_that_is_down_does_not_lose_the_comment_of_concern(post, settings, dsl, client):
    import socket

    with socket.socket() as unused:  # a port on this machine where nothing listens
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    comment_on(post, ("A parent", "You are all liars."))
    [raised] = monitoring.read_comments()
    client.force_login(dsl)
    assert "1 comment of concern" in client.get("/").content.decode()


def test_a_comment_with_a_date_that_cannot_be_understood_stops_no_other_comment(post):
    from django.conf import settings

    (settings.OUTBOX_DIR / post.platform_post_id / "comments.json").write_text(json.dumps([
        {"id": "c1", "author": "A parent", "text": "What a lovely day.", "created_at": "garbage"},
        {"id": "c2", "author": "Someone", "text": "You are all liars.", "created_at": "2026-12-01T09:00:00+00:00"},
    ]))
    raised = monitoring.read_comments()
    kept = {c.comment_id: c for c in PlatformComment.objects.all()}
    assert set(kept) == {"c1", "c2"}
    assert kept["c1"].written_at is None and kept["c2"].written_at is not None
    assert [c.comment_id for c in raised] == ["c2"]
    post.refresh_from_db()
    assert post.comments_error == ""
