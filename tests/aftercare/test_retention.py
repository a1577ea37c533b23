"""A draft that is never published keeps its pupils' pictures only while it is worked on: after
DRAFT_RETENTION_DAYS without activity its uploads go, its author warned a week before."""

import datetime
import io

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from config.school.models import AuditEntry
from moderation.aftercare import retention
from moderation.approval import face_review
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.models import Draft
from tests.conftest import link_draft

START = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def with_photo(office, channel, **fields):
    office.email = "office@aycliffe.kent.sch.uk"
    office.save()
    draft = link_draft(office, channel, **fields)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    media = drafting.add_media(draft, office, SimpleUploadedFile("sports-day.png", buffer.getvalue()), source="Mrs Patel",
                               rights="school", alt_text="Sports day")
    return draft, media


def days(n):
    return START + datetime.timedelta(days=n, minutes=1)


def test_the_author_is_warned_once_a_week_before_the_uploads_are_deleted(clock, office, facebook, mailoutbox):
    draft, media = with_photo(office, facebook)
    clock.move_to(days(22))
    assert retention.run() == (0, 0)
    clock.move_to(days(23))
    assert retention.run() == (1, 0)
    [message] = mailoutbox
    assert f"Draft {draft.pk}" in message.subject and "31 December" in message.subject
    assert retention.run() == (0, 0)  # once
    assert media.path.exists()


def test_after_the_retention_period_without_activity_the_uploads_are_deleted_and_audited(clock, office, facebook):
    draft, media = with_photo(office, facebook)
    clock.move_to(days(30))
    assert retention.run() == (0, 1)
    assert not media.path.exists()
    draft.refresh_from_db()
    assert draft.originals_deleted_at is not None and draft.link  # the post itself stays
    entry = AuditEntry.objects.get(action="draft.originals_deleted")
    assert f"photo {media.pk}" in entry.summary and "sports-day" not in entry.summary
    assert retention.run() == (0, 0)  # once


def test_any_activity_starts_the_clock_again(clock, office, facebook):
    draft, media = with_photo(office, facebook)
    clock.move_to(days(25))
    drafting.update_draft(draft, office, text="Sports day: the relay, the sack race and the parents' race.")
    clock.move_to(days(40))
    assert retention.run() == (0, 0) and media.path.exists()
    clock.move_to(days(56))
    assert retention.run()[1] == 1


def test_a_decision_about_a_face_counts_as_activity(clock, office, facebook):
    draft, media = with_photo(office, facebook)
    clock.move_to(days(29))
    face_review.mark(media, (5, 40, 40, 5), office)  # a face the engine missed, marked by the author
    clock.move_to(days(31))
    assert retention.run() == (0, 0) and media.path.exists()


def test_a_draft_approved_for_a_later_time_keeps_its_uploads(clock, office, approver, facebook):
    draft, media = with_photo(office, facebook, publish_at=days(60))
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    clock.move_to(days(45))
    assert retention.run() == (0, 0) and media.path.exists()


def test_uploading_again_after_deletion_keeps_the_new_upload(clock, office, facebook):
    draft, media = with_photo(office, facebook)
    clock.move_to(days(30))
    retention.run()
    drafting.remove_media(draft, office, media.pk)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    again = drafting.add_media(draft, office, SimpleUploadedFile("again.png", buffer.getvalue()), source="Mrs Patel", rights="school",
                               alt_text="Sports day")
    assert Draft.objects.get(pk=draft.pk).originals_deleted_at is None
    clock.move_to(days(61))
    assert retention.run()[1] == 1 and not again.path.exists()


def test_the_draft_page_says_the_uploads_were_deleted_and_what_to_do(clock, office, facebook, client):
    draft, _ = with_photo(office, facebook)
    clock.move_to(days(30))
    retention.run()
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert "The uploads were deleted on" in page and "upload them again" in page
