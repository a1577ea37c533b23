"""Faults: each leaves the draft in a state the product can explain, and resume."""

import io
import subprocess
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from config.school import audit
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.models import Approval, Draft, PublishedPost
from moderation.publishing import services as publishing
from tests.conftest import link_draft, on_disk


@pytest.fixture
def full_disk(tmp_path):
    """A real filesystem of 64 KB for the published copies: writing more fails with ENOSPC."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"a small filesystem cannot be mounted here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def photo_draft(office, approver, channel):
    draft = link_draft(office, channel)
    noise = io.BytesIO()
    Image.effect_noise((640, 480), 90).convert("RGB").save(noise, "JPEG", quality=95)
    drafting.add_media(draft, office, SimpleUploadedFile("hall.jpg", noise.getvalue()), source="Mrs Patel", rights="school",
                       alt_text="The school hall")
    assert drafting.submit(draft, office).passed
    approving.approve(draft, approver, dict(ATTESTATIONS))
    draft.refresh_from_db()
    return draft


def test_a_disk_that_fills_while_the_published_copy_is_written_holds_the_draft_and_says_why(office, approver, facebook, settings, full_disk):
    draft = photo_draft(office, approver, facebook)
    settings.STORAGES = {**settings.STORAGES, "published": on_disk(full_disk, 0o640)}
    with pytest.raises(publishing.PublishRefused, match="No space left on device"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and "Free space on the server" in draft.status_note
    assert not PublishedPost.objects.exists() and list((settings.OUTBOX_DIR).glob("outbox-*")) == []
    assert list(full_disk.iterdir()) == []  # no half-written copy left behind
    # Space is freed (here: a roomier folder); the same draft is published, and the upload was kept for it.
    settings.STORAGES = {**settings.STORAGES, "published": on_disk(full_disk.parent / "published", 0o640)}
    post = publishing.publish(draft, approver)
    assert post.media.count() == 1 and post.media.get().path.exists()


@pytest.mark.django_db(transaction=True)
def test_the_database_restarting_in_the_middle_of_an_approval_changes_nothing_and_it_can_be_approved_again(office, approver, facebook, client):
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("the connection is cut with PostgreSQL's pg_terminate_backend")
    draft = link_draft(office, facebook)
    assert drafting.submit(draft, office).passed
    blocker = connections.create_connection("default")
    outcome = {}
    seen_hash = pipeline.freeze(draft).hash  # as the page's form carries it

    def approve():
        """The approver's own request, through the page."""
        try:
            client.force_login(approver)
            data = {f"attest_{key}": "on" for key, _ in ATTESTATIONS}
            data["seen_hash"] = seen_hash
            outcome["response"] = client.post(f"/drafts/{draft.pk}/approve/", data, follow=True)
        finally:
            connections.close_all()

    try:
        with blocker.cursor() as cursor:
            blocker.set_autocommit(False)
            # The approval will wait here, mid-way: its approval row written, its audit entry not yet.
            cursor.execute("SELECT 1 FROM moderation_auditchainhead WHERE school_id = %s FOR UPDATE", [draft.school_id])
            worker = threading.Thread(target=approve)
            worker.start()
            waiting = []
            for _ in range(1200):  # up to a minute: the gates run first
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # a transaction otherwise sees one snapshot of it
                cursor.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
                               "AND query LIKE %s", ["%moderation_auditchainhead%"])
                waiting = [row[0] for row in cursor.fetchall()]
                if waiting:
                    break
                threading.Event().wait(0.05)
            assert waiting, "the approval never reached its audit entry"
            cursor.execute("SELECT pg_terminate_backend(%s)", [waiting[0]])  # the database drops the connection
    finally:
        blocker.rollback()
        blocker.close()
    worker.join(timeout=30)
    page = outcome["response"]
    assert page.status_code == 200 and "nothing was changed. Try again in a moment" in page.content.decode()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.AWAITING_APPROVAL and not Approval.objects.exists()
    assert audit.verify()[1] is None
    # The approver tries again once the database is back: it works.
    approving.approve(draft, approver, dict(ATTESTATIONS))
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED and Approval.objects.count() == 1
