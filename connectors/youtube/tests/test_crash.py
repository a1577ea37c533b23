"""A real process killed in the middle of a YouTube upload; a real worker started after it."""

import pytest

from connectors.conftest import approve, video_draft
from moderation.models import Draft, PublishedMedia
from tests import processes


@pytest.mark.django_db(transaction=True)
def test_a_process_killed_in_the_middle_of_an_upload_leaves_it_to_the_worker_which_resumes_it(youtube_api, channel, office, approver, tmp_path):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("separate processes share the test database only on PostgreSQL")
    draft = approve(video_draft(office, channel, tmp_path), office, approver)
    youtube_api.fail("PUT", r"/upload/youtube/v3/videos$", "act_then_hang")  # the first chunk arrives, its answer never does
    platform = {"YOUTUBE_API_URL": youtube_api.url, "GOOGLE_TOKEN_URI": youtube_api.token_uri, "CONNECTOR_TIMEOUT": "120",
                "YOUTUBE_UPLOAD_CHUNK_BYTES": str(256 * 1024)}
    publisher = processes.start(
        tmp_path, "shell", "-c",
        processes.IN_THE_SCHOOL + "from django.contrib.auth import get_user_model; from moderation.models import Draft; from moderation.publishing import services as publishing; "
        f"publishing.publish(Draft.objects.get(pk={draft.pk}), get_user_model().objects.get(username='approver'))",
        **platform,
    )
    try:
        processes.wait_for(lambda: youtube_api.requests("PUT"), "the upload starts", tmp_path)
    finally:
        publisher.kill()
        publisher.wait()
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHING
    held = len(next(iter(youtube_api.uploads.values()))["data"])
    assert held == 256 * 1024

    worker = processes.start(tmp_path, "run_worker", **platform)
    try:
        processes.wait_for(lambda: Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED, "the worker finishes the upload", tmp_path)
    finally:
        worker.terminate()
        worker.wait()
    draft.refresh_from_db()
    puts = youtube_api.requests("PUT")
    ranges = [r.headers.get("content-range") or r.headers.get("Content-Range") for r in puts]
    assert ranges[1].startswith("bytes */") and ranges[2].startswith(f"bytes {held}-")  # asked, then carried on from there
    assert len(youtube_api.requests("POST", r"/upload/youtube/v3/videos$")) == 1 and len(youtube_api.videos) == 1
    copy = PublishedMedia.objects.get(post=draft.publication)
    assert youtube_api.received_upload(draft.publication.platform_post_id) == copy.path.read_bytes()
