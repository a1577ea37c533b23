"""Uploads are analysed by the worker, not in the web request; a restart loses nothing."""

import io
import os
import subprocess
import sys

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from moderation import analysis, face_review, services
from moderation.models import MediaFile
from tests import processes
from tests.conftest import link_draft


@pytest.fixture(autouse=True)
def in_the_background(settings):
    settings.MEDIA_ANALYSIS = "background"


def png(size=(80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, "PNG")
    return buffer.getvalue()


def upload(draft, office, name="field.png"):
    return services.add_media(draft, office, SimpleUploadedFile(name, png()), source="Mrs Patel", rights="school", alt_text="A field")


def test_an_upload_waits_for_the_worker_and_the_request_does_not_analyse_it(office, facebook):
    media = upload(link_draft(office, facebook), office)
    assert media.analysis == "queued" and media.faces_found_at is None and media.words_read_at is None


def test_a_draft_cannot_be_submitted_until_its_files_are_analysed(office, facebook):
    draft = link_draft(office, facebook)
    upload(draft, office)
    with pytest.raises(ValidationError, match="'field.png' is waiting to be analysed"):
        services.submit(draft, office)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_the_worker_analyses_what_is_queued_and_the_draft_can_then_be_submitted(office, facebook):
    draft = link_draft(office, facebook)
    media = upload(draft, office)
    assert analysis.run_pending() == 1
    media.refresh_from_db()
    assert media.analysis == "done" and media.analysis_progress == 1.0
    assert media.faces_found_at is not None and media.words_read_at is not None
    assert services.submit(draft, office).passed


def test_the_draft_page_shows_progress_and_updates_itself_while_a_file_is_analysed(office, facebook, client):
    draft = link_draft(office, facebook)
    media = upload(draft, office)
    now = timezone.now()
    MediaFile.objects.filter(pk=media.pk).update(
        analysis="running", analysis_progress=0.4, analysis_started_at=now - timezone.timedelta(seconds=20), analysis_heartbeat=now,
    )
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert '<progress max="100" value="40"' in page
    assert "40%, about 30 seconds left" in page
    assert 'http-equiv="refresh"' in page
    assert "You can submit once every file has been analysed." in page


def test_only_one_worker_can_claim_a_file(office, facebook):
    media = upload(link_draft(office, facebook), office)
    assert analysis.claim(media.pk) is True
    assert analysis.claim(media.pk) is False


def test_a_file_left_running_by_a_stopped_worker_is_analysed_again_when_a_worker_starts(office, facebook):
    media = upload(link_draft(office, facebook), office)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process that has ended: its pid is free
    MediaFile.objects.filter(pk=media.pk).update(
        analysis="running", analysis_progress=0.6, analysis_heartbeat=timezone.now(),
        analysis_worker=f"{analysis.socket.gethostname()}:{dead.pid}",
    )
    assert analysis.requeue_abandoned() == 1
    assert analysis.run_pending() == 1
    media.refresh_from_db()
    assert media.analysis == "done" and media.faces_found_at is not None


def test_a_file_being_analysed_by_a_live_worker_is_left_to_it(office, facebook):
    media = upload(link_draft(office, facebook), office)
    MediaFile.objects.filter(pk=media.pk).update(
        analysis="running", analysis_heartbeat=timezone.now(), analysis_worker=f"{analysis.socket.gethostname()}:{os.getpid()}",
    )
    assert analysis.requeue_abandoned() == 0
    assert analysis.run_pending() == 0


def test_an_analysis_that_fails_is_recorded_and_the_gates_fail_closed(office, facebook, monkeypatch):
    def broken(media, progress):
        raise MemoryError("the photo did not fit in memory")

    monkeypatch.setattr(face_review, "find_faces", broken)
    draft = link_draft(office, facebook)
    media = upload(draft, office)
    analysis.run_pending()
    media.refresh_from_db()
    assert media.analysis == "failed" and "did not fit in memory" in media.analysis_error
    with pytest.raises(ValidationError, match="could not be analysed"):
        services.submit(draft, office)


def _worker(tmp_path):
    """`manage.py run_worker` in its own process, on this test's database and data folder."""
    return processes.start(tmp_path, "run_worker")


_logs, _wait_for = processes.logs, processes.wait_for


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_in_the_middle_of_an_analysis_loses_nothing(office, facebook, tmp_path, settings):
    """Two real worker processes: the first is killed while it analyses a large photo; the
    second, started after it, analyses that photo from the start."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    settings.UPLOAD_DIR = tmp_path / "uploads"
    draft = link_draft(office, facebook)
    big = io.BytesIO()
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(big, "JPEG", quality=90)
    media = services.add_media(draft, office, SimpleUploadedFile("hall.jpg", big.getvalue()), source="Mrs Patel", rights="school")

    first = _worker(tmp_path)
    try:
        _wait_for(lambda: MediaFile.objects.get(pk=media.pk).analysis == "running", "the first worker starts", tmp_path)
    finally:
        first.kill()
        first.wait()
    assert MediaFile.objects.get(pk=media.pk).analysis == "running"  # left behind by the killed worker

    second = _worker(tmp_path)
    try:
        _wait_for(lambda: MediaFile.objects.get(pk=media.pk).analysis in ("done", "failed"), "the second worker finishes", tmp_path)
    finally:
        second.terminate()
        second.wait()
    media.refresh_from_db()
    assert media.analysis == "done", (media.analysis_error, _logs(tmp_path))
    assert media.faces_found_at is not None and media.words_read_at is not None
    assert media.analysis_worker.endswith(f":{second.pid}")
