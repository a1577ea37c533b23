"""Uploads are analysed by the worker, not in the web request; a restart loses nothing."""

import io
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from config.school import roles
from moderation.approval import face_review
from moderation.drafts import analysis
from moderation.drafts import services as drafting
from moderation.models import MediaFile
from tests import processes
from tests.conftest import link_draft, make_user


@pytest.fixture(autouse=True)
def in_the_background(settings):
    settings.MEDIA_ANALYSIS = "background"


def png(size=(80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "green").save(buffer, "PNG")
    return buffer.getvalue()


def upload(draft, office, name="field.png"):
    return drafting.add_media(draft, office, SimpleUploadedFile(name, png()), source="Mrs Patel", rights="school", alt_text="A field")


def test_an_upload_waits_for_the_worker_and_the_request_does_not_analyse_it(office, facebook):
    media = upload(link_draft(office, facebook), office)
    assert media.analysis == "queued" and media.faces_found_at is None and media.words_read_at is None


def test_a_draft_cannot_be_submitted_until_its_files_are_analysed(office, facebook):
    draft = link_draft(office, facebook)
    upload(draft, office)
    with pytest.raises(ValidationError, match="'field.png' is waiting to be analysed"):
        drafting.submit(draft, office)
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_the_worker_analyses_what_is_queued_and_the_draft_can_then_be_submitted(office, facebook):
    draft = link_draft(office, facebook)
    media = upload(draft, office)
    assert analysis.run_pending() == 1
    media.refresh_from_db()
    assert media.analysis == "done" and media.analysis_progress == 1.0
    assert media.faces_found_at is not None and media.words_read_at is not None
    assert drafting.submit(draft, office).passed


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
    # 20 s for 40%: about 30 s left, and a little more by the time the page is drawn (the first
    # page a process draws loads every view).
    left = re.search(r"40%, about (\d+) seconds left", page)
    assert left and 30 <= int(left.group(1)) <= 60
    assert "progress.js" in page  # it updates itself in place
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
        drafting.submit(draft, office)


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
    draft = link_draft(office, facebook)
    big = io.BytesIO()
    Image.effect_noise((4000, 3000), 60).convert("RGB").save(big, "JPEG", quality=90)
    media = drafting.add_media(draft, office, SimpleUploadedFile("hall.jpg", big.getvalue()), source="Mrs Patel", rights="school")

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


# --- Stopping the worker ------------------------------------------------------------------------------


@pytest.fixture
def stop_request():
    from moderation.upkeep import stopping

    yield stopping.requested
    stopping.requested.clear()


def queued_photo(office, facebook, settings):
    settings.MEDIA_ANALYSIS = "background"
    draft = link_draft(office, facebook)
    photo = io.BytesIO()
    Image.new("RGB", (800, 600), "white").save(photo, "JPEG")
    return drafting.add_media(draft, office, SimpleUploadedFile("hall.jpg", photo.getvalue()), source="Mrs Patel", rights="school")


def test_a_worker_asked_to_stop_puts_the_file_in_hand_back_in_the_queue(office, facebook, settings, stop_request, monkeypatch):
    media = queued_photo(office, facebook, settings)
    real = face_review.find_faces

    def stopped_half_way(media, progress):
        stop_request.set()  # SIGTERM arrives while the faces are being found
        real(media, progress)

    monkeypatch.setattr(face_review, "find_faces", stopped_half_way)
    assert analysis.run(media.pk)
    media.refresh_from_db()
    assert media.analysis == "queued" and media.analysis_error == "" and media.analysis_worker == ""


def test_a_file_removed_while_it_is_analysed_is_skipped_without_an_error(office, facebook, settings, monkeypatch):
    media = queued_photo(office, facebook, settings)
    real = face_review.find_faces

    def removed_half_way(media, progress):
        drafting.remove_media(media.draft, office, media.pk)  # the author removes it meanwhile
        real(media, progress)

    monkeypatch.setattr(face_review, "find_faces", removed_half_way)
    assert analysis.run(media.pk)
    assert not MediaFile.objects.filter(pk=media.pk).exists()


def long_video(path, seconds=120):
    """Two minutes of noise at 320 x 240: analysed for much longer than a worker may take to stop."""
    import av
    import numpy as np

    rng = np.random.default_rng(3)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=5)
        stream.width, stream.height, stream.pix_fmt, stream.options = 320, 240, "yuv420p", {"preset": "ultrafast"}
        for _ in range(seconds * 5):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.mark.django_db(transaction=True)
def test_a_worker_stops_within_ten_seconds_of_sigterm_leaving_its_analysis_to_the_next(office, youtube, tmp_path, settings):
    import signal
    import time

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    settings.MEDIA_ANALYSIS = "background"
    draft = link_draft(office, youtube, link="", title="Sports day", text="Sports day.")
    path = long_video(tmp_path / "long.mp4")
    media = drafting.add_media(draft, office, SimpleUploadedFile("long.mp4", path.read_bytes()), source="Mrs Patel", rights="school")
    worker = _worker(tmp_path)
    try:
        _wait_for(lambda: MediaFile.objects.get(pk=media.pk).analysis_progress > 0.02, "the worker is well into the video", tmp_path)
        asked = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0, _logs(tmp_path)
        took = time.monotonic() - asked
    finally:
        if worker.poll() is None:
            worker.kill()
    assert took < 10
    media.refresh_from_db()
    assert media.analysis == "queued", (media.analysis, _logs(tmp_path))  # for the next worker, from the start
    assert "The worker stopped" in _logs(tmp_path)


# --- The draft page while files are analysed (it never reloads itself over a form) ---------------


def _queued(office, facebook, settings):
    settings.MEDIA_ANALYSIS = "background"
    draft = link_draft(office, facebook, link="", text="Sports day, in pictures.")
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 140, 60)).save(buffer, "PNG")
    return draft, drafting.add_media(draft, office, SimpleUploadedFile("field.png", buffer.getvalue()), source="Mrs Patel", rights="school")


def test_the_draft_page_while_a_file_is_analysed_asks_for_progress_instead_of_reloading_itself(office, facebook, settings, client):
    draft, _ = _queued(office, facebook, settings)
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert 'http-equiv="refresh"' not in page and "progress.js" in page and f'data-progress="/drafts/{draft.pk}/progress/"' in page


def test_the_progress_of_each_file_is_given_with_the_time_left_from_the_pace_so_far(office, facebook, settings, client):
    draft, media = _queued(office, facebook, settings)
    now = timezone.now()
    MediaFile.objects.filter(pk=media.pk).update(analysis="running", analysis_progress=0.5, analysis_started_at=now - timedelta(seconds=40),
                                                 analysis_heartbeat=now)
    client.force_login(office)
    answer = client.get(f"/drafts/{draft.pk}/progress/").json()
    assert answer["analysing"] is True
    [file] = answer["files"]
    assert file["percent"] == 50 and file["words"].startswith("50%, about 4") and file["words"].endswith("seconds left")


def test_a_long_step_between_two_reports_makes_the_time_left_grow_instead_of_freezing(office, facebook, settings):
    _, media = _queued(office, facebook, settings)
    started = timezone.now() - timedelta(minutes=2)
    MediaFile.objects.filter(pk=media.pk).update(analysis="running", analysis_progress=0.05, analysis_started_at=started, analysis_heartbeat=started)
    media.refresh_from_db()
    # Two minutes for 5%: about 38 minutes left, not "a second" as the last report alone would say.
    assert media.analysis_words() == "5%, about 38 minutes left"


def test_only_those_who_may_see_the_draft_see_its_progress(office, facebook, settings, client):
    draft, _ = _queued(office, facebook, settings)
    other = make_user("office2", roles.OFFICE_STAFF)
    client.force_login(other)
    assert client.get(f"/drafts/{draft.pk}/progress/").status_code == 403
