"""The YouTube connector, through google-api-python-client and google-auth over real HTTP to the emulator."""

import threading
import time
from dataclasses import replace
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from config.school.models import AuditEntry
from connectors.base import ConnectorError, Journal, OutgoingMedia, OutgoingPost, TryLater
from connectors.conftest import approve, video_draft
from connectors.models import Connection, Delivery, QuotaDay
from connectors.youtube import YouTubeConnector
from connectors.youtube.connector import THUMBNAIL_ATTEMPTS
from moderation.models import Draft, PublishedMedia
from moderation.publishing import services as publishing


@pytest.fixture
def draft(channel, office, approver, tmp_path):
    return approve(video_draft(office, channel, tmp_path), office, approver)


def uploads_started(api):
    return api.requests("POST", r"/upload/youtube/v3/videos$")


def chunks(api):
    return api.requests("PUT", r"/upload/youtube/v3/videos$")


def content_range(request):
    return request.headers.get("content-range") or request.headers.get("Content-Range")


def test_an_upload_is_private_says_made_for_kids_and_sends_the_checked_bytes_and_thumbnail(youtube_api, draft, approver):
    post = publishing.publish(draft, approver)
    [start] = uploads_started(youtube_api)
    metadata = start.json()
    assert metadata["status"] == {"privacyStatus": "private", "selfDeclaredMadeForKids": False}
    assert metadata["snippet"]["title"] == "Harvest assembly" and start.query["notifySubscribers"] == "false"
    [copy] = PublishedMedia.objects.filter(post=post)
    assert youtube_api.received_upload(post.platform_post_id) == copy.path.read_bytes()
    assert youtube_api.videos[post.platform_post_id]["status"]["privacyStatus"] == "private"
    assert youtube_api.thumbnails[post.platform_post_id][:3] == b"\xff\xd8\xff"  # the checked JPEG thumbnail
    assert post.platform_state == "YouTube is still processing the video."


def small_video(tmp_path):
    """Bytes enough for the upload protocol: the connector tests here need no real video."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"v" * 1000)
    return path


def uploaded(channel, tmp_path):
    """The channel's connector, and a video it has just uploaded."""
    connector = YouTubeConnector.for_channel(channel)
    return connector, connector.publish(outgoing(small_video(tmp_path)), Journal()).platform_post_id


def outgoing(path, privacy="private") -> OutgoingPost:
    return OutgoingPost(draft_id=1, content_hash="abc", channel_name="School YouTube", channel_kind="youtube", account_id="",
                        privacy=privacy, text="", title="Clip", link="", publish_at=None,
                        media=(OutgoingMedia("video", path, "video/mp4", ""),))


@pytest.mark.parametrize("privacy, message", [("public", "never 'public'"), ("unlisted", "does not allow unlisted")])
def test_an_upload_is_never_public_and_unlisted_only_where_the_school_allows_it(youtube_api, channel, tmp_path, privacy, message):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"video")
    with pytest.raises(ConnectorError, match=message):
        YouTubeConnector.for_channel(channel).publish(outgoing(path, privacy), Journal())
    assert youtube_api.received == []


def test_unlisted_is_sent_when_the_schools_configuration_allows_it(youtube_api, channel, tmp_path):
    channel.school.allow_youtube_unlisted = True
    channel.school.save()
    path = small_video(tmp_path)
    result = YouTubeConnector.for_channel(channel).publish(outgoing(path, "unlisted"), Journal())
    assert youtube_api.videos[result.platform_post_id]["status"]["privacyStatus"] == "unlisted"


def test_an_upload_interrupted_at_60_percent_resumes_from_the_byte_youtube_holds(youtube_api, draft, approver):
    size = draft.media.get().size  # about the size of the copy that is sent
    youtube_api.interrupt_upload_at = int(size * 0.6)
    with pytest.raises(publishing.PublishWaiting, match=r"The upload to YouTube stopped at \d+%"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.WAITING
    journal = Delivery.objects.get(draft=draft).steps
    held = len(next(iter(youtube_api.uploads.values()))["data"])
    assert journal["upload_uri"].startswith(youtube_api.url) and held == int(size * 0.6)
    # The emulator's thread records the cut request as the connection drops, which the client may
    # see first: wait for every chunk of the first attempt (whole ones, then the cut one).
    chunk = int(content_range(chunks(youtube_api)[0]).split("-")[1].split("/")[0]) + 1
    deadline = time.monotonic() + 10
    while len(chunks(youtube_api)) < -(-held // chunk) and time.monotonic() < deadline:
        time.sleep(0.05)
    before = len(chunks(youtube_api))

    assert publishing.retry_waiting(now=timezone.now() + timedelta(hours=1)) == 1
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    after = chunks(youtube_api)[before:]
    cut = f"bytes {held // chunk * chunk}-"
    if after and content_range(after[0]).startswith(cut):
        after = after[1:]  # the cut request of the first attempt, recorded by the emulator after the client saw the drop
    assert content_range(after[0]).startswith("bytes */")  # first asks which byte YouTube holds
    assert content_range(after[1]).startswith(f"bytes {held}-")  # then carries on from exactly there
    assert len(uploads_started(youtube_api)) == 1 and len(youtube_api.videos) == 1
    copy = PublishedMedia.objects.get(post=draft.publication)
    assert youtube_api.received_upload(draft.publication.platform_post_id) == copy.path.read_bytes()


def test_a_publish_that_would_exceed_the_days_quota_waits_for_the_next_day(youtube_api, channel, draft, approver):
    QuotaDay.spend(channel, 9_990)
    with pytest.raises(publishing.PublishWaiting, match="daily quota") as waiting:
        publishing.publish(draft, approver)
    assert uploads_started(youtube_api) == []
    assert waiting.value.retry_at == QuotaDay.next_reset()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.WAITING and "quota starts again" in draft.status_note
    assert publishing.retry_waiting(now=timezone.now() + timedelta(hours=1) if waiting.value.retry_at > timezone.now() + timedelta(hours=1) else timezone.now()) == 0


def test_a_revoked_refresh_token_holds_the_post_and_marks_the_channel_reconnect_needed(youtube_api, channel, draft, approver):
    youtube_api.revoke_refresh_token()
    with pytest.raises(publishing.PublishRefused, match="Reconnect needed"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and "revoked" in draft.status_note
    assert Connection.objects.get(channel=channel).status == Connection.Status.RECONNECT_NEEDED
    assert uploads_started(youtube_api) == []


def test_a_refreshed_access_token_is_stored_encrypted(youtube_api, channel, draft, approver):
    publishing.publish(draft, approver)
    connection = Connection.objects.get(channel=channel)
    token = connection.credentials()["token"]
    assert token != "access-1" and token in youtube_api.access_tokens
    assert token.encode() not in bytes(connection.secret)


def test_processing_is_read_again_until_youtube_has_processed_the_video(youtube_api, draft, approver, head, client):
    post = publishing.publish(draft, approver)
    assert post.platform_state.startswith("YouTube is still processing")
    client.force_login(head)
    assert "YouTube is still processing the video." in client.get(f"/log/{post.pk}/").content.decode()
    assert publishing.refresh_platform_states() == 1
    post.refresh_from_db()
    assert post.platform_state == ""
    assert publishing.refresh_platform_states() == 0


def test_comment_threads_and_their_replies_are_read_across_every_page(youtube_api, channel, tmp_path):
    connector, video_id = uploaded(channel, tmp_path)
    first = youtube_api.add_comment(video_id, "Lovely singing")
    youtube_api.add_comment(video_id, "Thank you!", author="Aycliffe Primary", reply_to=first["id"])
    for number in range(120):
        youtube_api.add_comment(video_id, f"Comment {number}")
    comments = list(connector.comments(video_id))
    assert len(comments) == 122 and comments[0].text == "Lovely singing" and comments[1].parent_id == first["id"]
    assert len(youtube_api.requests("GET", r"/commentThreads$")) == 2


def test_a_video_is_deleted_through_the_api(youtube_api, channel, tmp_path):
    connector, video_id = uploaded(channel, tmp_path)
    connector.delete(video_id)
    assert video_id not in youtube_api.videos
    connector.delete(video_id)  # already gone: nothing to do


def test_connect_youtube_walks_through_googles_consent_and_stores_the_tokens_encrypted(youtube_api, youtube, head, tmp_path, monkeypatch):
    import contextlib
    import io
    import json

    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # oauthlib's switch for a token address on plain HTTP (the emulator)
    secrets_file = tmp_path / "client_secret.json"
    secrets_file.write_text(json.dumps(youtube_api.client_config()))
    printed, out, seen = io.StringIO(), io.StringIO(), []

    def browser():
        # The person at the browser: opens the printed address; Google's consent page (already
        # answered "Allow" in the emulator) redirects back to the command's local listener.
        for _ in range(200):
            lines = [line for line in printed.getvalue().splitlines() if line.startswith(youtube_api.url)]
            if lines:
                seen.append(lines[0])
                requests.get(lines[0], timeout=10)
                return
            time.sleep(0.05)

    person = threading.Thread(target=browser)
    person.start()
    with contextlib.redirect_stdout(printed):
        call_command("connect_youtube", channel=youtube.name, by="head", client_secrets=str(secrets_file), no_browser=True, stdout=out)
    person.join(timeout=10)
    assert "prompt=consent" in seen[0] and "access_type=offline" in seen[0]
    connection = Connection.objects.get(channel=youtube)
    assert connection.account_id == youtube_api.channel_id and connection.account_name == youtube_api.channel_title
    assert connection.credentials()["refresh_token"] in youtube_api.refresh_tokens
    assert b"refresh-" not in bytes(connection.secret)
    assert "is connected" in out.getvalue()


def test_a_channel_that_may_not_set_thumbnails_gets_its_video_published_with_a_note_and_a_way_to_set_it_again(youtube_api, draft, approver, head, client):
    youtube_api.channel_verified = False
    post = publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED and len(uploads_started(youtube_api)) == 1
    assert "verified channel" in post.thumbnail_problem and post.platform_post_id not in youtube_api.thumbnails
    client.force_login(head)
    page = client.get(f"/log/{post.pk}/").content.decode()
    assert "Set the thumbnail again" in page and "verified channel" in page

    youtube_api.channel_verified = True  # the headteacher verified the channel
    client.post(f"/log/{post.pk}/thumbnail/")
    post.refresh_from_db()
    assert post.thumbnail_problem == "" and youtube_api.thumbnails[post.platform_post_id][:3] == b"\xff\xd8\xff"
    assert AuditEntry.objects.filter(action="post.thumbnail_set", data__post=post.pk).exists()
    assert len(uploads_started(youtube_api)) == 1  # the video was never sent again


def test_setting_a_thumbnail_again_on_a_channel_still_not_verified_says_why(youtube_api, draft, approver, head, client):
    youtube_api.channel_verified = False
    post = publishing.publish(draft, approver)
    client.force_login(head)
    page = client.post(f"/log/{post.pk}/thumbnail/", follow=True).content.decode()
    assert "did not take the thumbnail" in page
    post.refresh_from_db()
    assert "verified channel" in post.thumbnail_problem


def test_a_thumbnail_youtube_cannot_take_now_is_tried_a_few_times_then_the_video_is_published_without_it(youtube_api, channel, tmp_path):
    video, thumbnail = tmp_path / "clip.mp4", tmp_path / "clip.thumbnail.jpg"
    video.write_bytes(b"v" * 1000)
    thumbnail.write_bytes(b"\xff\xd8\xff\xe0 a checked thumbnail")
    post = replace(outgoing(video), media=(OutgoingMedia("video", video, "video/mp4", "", thumbnail),))
    youtube_api.fail("POST", r"/thumbnails/set$", "error", status=503, times=10)
    connector, journal = YouTubeConnector.for_channel(channel), Journal()
    for _ in range(THUMBNAIL_ATTEMPTS - 1):
        with pytest.raises(TryLater):
            connector.publish(post, journal)
    result = connector.publish(post, journal)
    assert result.platform_post_id in youtube_api.videos and "after 3 attempts" in result.thumbnail_problem
    assert len(uploads_started(youtube_api)) == 1 and len(youtube_api.requests("POST", r"/thumbnails/set$")) == THUMBNAIL_ATTEMPTS


def test_an_outage_at_googles_sign_in_service_waits_and_does_not_ask_for_a_reconnect(youtube_api, channel, draft, approver):
    youtube_api.token_outage = True  # google-auth tries three times, then says the error is retryable
    with pytest.raises(publishing.PublishWaiting, match="sign-in service"):
        publishing.publish(draft, approver)
    assert Connection.objects.get(channel=channel).status == Connection.Status.CONNECTED
    youtube_api.token_outage = False
    publishing.retry_waiting(now=timezone.now() + timedelta(hours=1))
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED


def test_a_channel_over_youtubes_upload_limit_waits_24_hours(youtube_api, channel, draft, approver):
    youtube_api.upload_limit_reached = True
    with pytest.raises(publishing.PublishWaiting, match="uploadLimitExceeded") as waiting:
        publishing.publish(draft, approver)
    assert timedelta(hours=23, minutes=59) < waiting.value.retry_at - timezone.now() <= timedelta(hours=24)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.WAITING and youtube_api.videos == {}


def test_an_upload_spends_a_call_of_its_own_bucket_and_the_rest_spend_units(youtube_api, channel, draft, approver):
    publishing.publish(draft, approver)
    assert QuotaDay.spent(channel, bucket=QuotaDay.UPLOADS) == 1 == youtube_api.uploads_spent
    assert QuotaDay.spent(channel) == 50 + 1 == youtube_api.units_spent  # the thumbnail and the processing status


def test_a_day_of_units_spent_on_other_calls_still_leaves_room_for_uploads(youtube_api, channel, tmp_path):
    # The old count of 1,600 units an upload stopped a school at six videos a day.
    QuotaDay.spend(channel, 9_000)
    path = small_video(tmp_path)
    result = YouTubeConnector.for_channel(channel).publish(outgoing(path), Journal())
    assert result.platform_post_id in youtube_api.videos


def test_a_publish_waits_for_the_next_day_when_the_days_uploads_are_used(youtube_api, channel, draft, approver, settings):
    QuotaDay.spend(channel, settings.YOUTUBE_DAILY_UPLOADS, bucket=QuotaDay.UPLOADS)
    with pytest.raises(publishing.PublishWaiting, match="100 of 100 uploads") as waiting:
        publishing.publish(draft, approver)
    assert waiting.value.retry_at == QuotaDay.next_reset() and uploads_started(youtube_api) == []


def test_youtube_saying_the_uploads_bucket_is_empty_marks_that_bucket_spent_not_the_units(youtube_api, channel, draft, approver, settings):
    youtube_api.daily_uploads = 0  # another program of the school's project spent them
    with pytest.raises(publishing.PublishWaiting, match="quota is used up"):
        publishing.publish(draft, approver)
    assert QuotaDay.spent(channel, bucket=QuotaDay.UPLOADS) == settings.YOUTUBE_DAILY_UPLOADS
    assert QuotaDay.spent(channel) < settings.YOUTUBE_DAILY_QUOTA
    assert Delivery.objects.get(draft=draft).retry_at == QuotaDay.next_reset()


def test_youtube_saying_the_units_are_used_up_waits_for_the_next_day(youtube_api, channel, tmp_path, settings):
    connector, video_id = uploaded(channel, tmp_path)
    youtube_api.quota_exceeded = True
    with pytest.raises(TryLater, match="quota is used up") as waiting:
        connector.delete(video_id)
    assert QuotaDay.spent(channel) == settings.YOUTUBE_DAILY_QUOTA and waiting.value.retry_at == QuotaDay.next_reset()


def test_replies_beyond_those_a_thread_carries_are_read_with_comments_list(youtube_api, channel, tmp_path):
    connector, video_id = uploaded(channel, tmp_path)
    thread = youtube_api.add_comment(video_id, "Lovely concert")
    for number in range(7):
        youtube_api.add_comment(video_id, f"Reply {number}", reply_to=thread["id"])
    youtube_api.add_comment(video_id, "my daughter is the one at the front, she is 7 and lives on Elm Road", reply_to=thread["id"])
    comments = list(connector.comments(video_id))
    assert [c.text for c in comments[1:]] == [f"Reply {n}" for n in range(7)] + ["my daughter is the one at the front, she is 7 and lives on Elm Road"]
    assert {c.parent_id for c in comments[1:]} == {thread["id"]}
    [asked] = youtube_api.requests("GET", r"/youtube/v3/comments$")
    assert asked.query["parentId"] == thread["id"]


def test_a_thread_with_all_its_replies_inline_needs_no_further_call(youtube_api, channel, tmp_path):
    connector, video_id = uploaded(channel, tmp_path)
    thread = youtube_api.add_comment(video_id, "Lovely concert")
    youtube_api.add_comment(video_id, "Thank you", reply_to=thread["id"])
    assert len(list(connector.comments(video_id))) == 2
    assert youtube_api.requests("GET", r"/youtube/v3/comments$") == []


@pytest.mark.parametrize("title, text, reason", [
    ("T" * 101, "", "invalid or empty video title"),
    ("Concert", "é" * 2501, "invalid video description"),
    ("Concert", "Year 6 <3 their teachers", "invalid video description"),
])
def test_youtube_refuses_words_over_its_limits_and_nothing_is_uploaded(youtube_api, channel, tmp_path, title, text, reason):
    # Drafting refuses these first (connectors.base.text_problem); this is what YouTube answers if one got through.
    path = small_video(tmp_path)
    with pytest.raises(ConnectorError, match=reason):
        YouTubeConnector.for_channel(channel).publish(replace(outgoing(path), title=title, text=text), Journal())
    assert youtube_api.videos == {} and chunks(youtube_api) == []


def test_an_interrupted_upload_of_different_bytes_is_started_again_not_resumed(youtube_api, draft, approver):
    youtube_api.interrupt_upload_at = int(draft.media.get().size * 0.6)
    with pytest.raises(publishing.PublishWaiting):
        publishing.publish(draft, approver)
    delivery = Delivery.objects.get(draft=draft)
    Delivery.objects.filter(pk=delivery.pk).update(steps={**delivery.steps, "upload_sha256": "0" * 64})
    publishing.retry_waiting(now=timezone.now() + timedelta(hours=1))
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED
    assert len(uploads_started(youtube_api)) == 2 and len(youtube_api.videos) == 1
    copy = PublishedMedia.objects.get(post=draft.publication)
    assert youtube_api.received_upload(draft.publication.platform_post_id) == copy.path.read_bytes()
