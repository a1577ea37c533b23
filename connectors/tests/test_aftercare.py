"""Comment monitoring and takedown through the real platforms' clients, against the emulators."""

import pytest

from config.school.models import AuditEntry
from connectors.conftest import approve, video_draft
from connectors.models import Connection
from moderation.aftercare import concerns, monitoring
from moderation.models import PlatformComment
from moderation.publishing import services as publishing
from tests.conftest import link_draft


@pytest.fixture
def fb_post(graph, page, office, approver):
    return publishing.publish(approve(link_draft(office, page, text="Our Christmas fair raised £1,240."), office, approver), approver)


def test_comments_on_the_facebook_page_are_read_and_nothing_is_ever_sent_back(graph, fb_post):
    graph.add_comment(fb_post.platform_post_id, "What a lovely fair")
    graph.add_comment(fb_post.platform_post_id, "You lot are thieves, where did the money go?", author="Angry Parent")
    before = len(graph.requests())
    [raised] = monitoring.read_comments()
    assert raised.author == "Angry Parent" and PlatformComment.objects.count() == 2
    monitoring.read_comments()  # a second round
    assert {r.method for r in graph.requests()[before:]} == {"GET"}  # never a reply, never a message


def test_comments_on_a_youtube_video_are_read_with_their_replies(youtube_api, channel, office, approver, tmp_path):
    post = publishing.publish(approve(video_draft(office, channel, tmp_path), office, approver), approver)
    first = youtube_api.add_comment(post.platform_post_id, "Beautiful singing")
    youtube_api.add_comment(post.platform_post_id, "im 8 and i was the angel!!", author="Ella", reply_to=first["id"])
    [raised] = monitoring.read_comments()
    assert raised.parent_id == first["id"] and "child" in {r["kind"] for r in raised.reasons}
    assert {r.method for r in youtube_api.requests(path=r"/commentThreads$")} == {"GET"}


def test_a_revoked_token_while_reading_comments_shows_reconnect_needed(graph, fb_post):
    graph.revoke("page-token", subcode=460)
    assert monitoring.read_comments() == []
    fb_post.refresh_from_db()
    assert "password was changed" in fb_post.comments_error
    assert Connection.objects.get(channel=fb_post.channel).status == Connection.Status.RECONNECT_NEEDED


def test_the_dsl_takes_a_post_down_from_the_facebook_page(graph, fb_post, dsl):
    outcome = concerns.take_down(fb_post, dsl, "A parent asked for it to be removed.")
    assert outcome.startswith("Taken down") and graph.posts() == []
    fb_post.refresh_from_db()
    assert fb_post.removed_from_platform_at is not None
    assert AuditEntry.objects.filter(action="post.removed_from_platform", draft=fb_post.draft).exists()


def test_a_takedown_facebook_cannot_do_now_leaves_the_news_page_at_once_and_is_finished_by_the_worker(graph, fb_post, dsl, client):
    graph.fail("DELETE", r".*", "error", status=500, body={"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 2}})
    outcome = concerns.take_down(fb_post, dsl, "Shows a pupil whose consent was withdrawn.")
    assert "has not removed it yet" in outcome and len(graph.posts()) == 1
    assert client.get(f"/mirror/{fb_post.pk}/").status_code == 404
    graph.faults.clear()
    assert concerns.retry_takedowns() == 1
    assert graph.posts() == [] and concerns.retry_takedowns() == 0


def test_a_youtube_video_is_taken_down_through_the_api(youtube_api, channel, office, approver, head, tmp_path):
    post = publishing.publish(approve(video_draft(office, channel, tmp_path), office, approver), approver)
    concerns.take_down(post, head, "Filmed the wrong class by mistake.")
    assert post.platform_post_id not in youtube_api.videos
    assert post.removed_from_platform_at is not None
