"""The Facebook Page connector, through facebook-sdk over real HTTP to the Graph emulator."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from config.school.models import AuditEntry
from connectors.base import ConnectorError, Journal, OutgoingMedia, OutgoingPost, TryLater
from connectors.conftest import approve, photo_draft
from connectors.facebook import FacebookConnector
from connectors.models import Connection, Delivery
from moderation.models import Draft, PublishedMedia
from moderation.publishing import services as publishing
from tests.conftest import link_draft


def outgoing(**fields) -> OutgoingPost:
    values = dict(draft_id=1, content_hash="abc", channel_name="School Facebook", channel_kind="facebook", account_id="1122334455",
                  privacy="", text="Harvest festival this Friday.", title="", link="", publish_at=None, media=())
    return OutgoingPost(**{**values, **fields})


def connector(graph):
    return FacebookConnector(graph.page_id, "page-token", app_id=graph.app_id, user_token="user-token")


def feed_posts(graph):
    return graph.requests("POST", r"/feed$")


def published_text_draft(office, approver, page, text="Harvest festival this Friday: bring a tin for the food bank."):
    return approve(link_draft(office, page, text=text), office, approver)


def test_a_text_and_link_post_goes_to_the_pages_feed_as_the_page(graph, page, office, approver):
    post = publishing.publish(published_text_draft(office, approver, page), approver)
    [sent] = feed_posts(graph)
    assert sent.path == f"/v25.0/{graph.page_id}/feed"
    assert sent.form["message"].startswith("Harvest festival") and sent.form["link"].startswith("https://www.aycliffe")
    assert sent.form["access_token"] == "page-token"
    assert post.platform_post_id == graph.posts()[0]["id"] and post.connector == "facebook"


def test_the_graph_version_and_address_are_settings(graph, settings):
    settings.FACEBOOK_GRAPH_VERSION = "v23.0"
    connector(graph).publish(outgoing(), Journal())
    assert feed_posts(graph)[0].path == f"/v23.0/{graph.page_id}/feed"


def test_several_photos_go_up_unpublished_with_their_alt_text_then_in_one_post(graph, page, office, approver):
    post = publishing.publish(approve(photo_draft(office, page, photos=2), office, approver), approver)
    uploads = graph.requests("POST", r"/photos$")
    assert [u.form["published"] for u in uploads] == ["false", "false"]  # the strings Graph expects, not Python's False
    assert [u.form["alt_text_custom"] for u in uploads] == ["Model river, part 1", "Model river, part 2"]
    copies = list(PublishedMedia.objects.filter(post=post).order_by("position"))
    assert [u.files["source"] for u in uploads] == [c.path.read_bytes() for c in copies]  # the checked bytes, exactly
    [sent] = feed_posts(graph)
    ids = [json.loads(sent.form[f"attached_media[{i}]"])["media_fbid"] for i in range(2)]
    assert graph.posts()[0]["attached"] == ids and "attached_media" not in sent.form


def video_post(tmp_path, size=5000):
    path = tmp_path / "assembly.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * (size // 256))
    return path, outgoing(title="Harvest assembly", media=(OutgoingMedia("video", path, "video/mp4", ""),))


def test_a_video_goes_up_through_the_resumable_upload_api_and_is_posted_by_its_handle(graph, tmp_path):
    path, post = video_post(tmp_path)
    result = connector(graph).publish(post, Journal())
    [start] = graph.requests("POST", rf"/{graph.app_id}/uploads$")
    assert start.form["file_length"] == str(path.stat().st_size) and start.form["file_type"] == "video/mp4"
    assert start.form["access_token"] == "user-token"
    [upload] = graph.requests("POST", r"/upload:")
    assert upload.headers["file_offset"] == "0" and upload.headers["Authorization"] == "OAuth user-token"
    assert upload.body == path.read_bytes()
    [sent] = graph.requests("POST", r"/videos$")
    assert sent.form["title"] == "Harvest assembly" and sent.form["description"] == "Harvest festival this Friday."
    assert sent.form["fbuploader_video_file_chunk"].startswith("2:") and sent.files == {} and sent.form["access_token"] == "page-token"
    assert graph.video_bytes[result.platform_post_id] == path.read_bytes()


def test_an_interrupted_video_upload_carries_on_from_the_byte_facebook_holds(graph, tmp_path):
    path, post = video_post(tmp_path, size=300_000)
    graph.fail("POST", r"/upload:", "cut_after", cut_after=120_000)
    journal = Journal()
    with pytest.raises(TryLater):
        connector(graph).publish(post, journal)
    assert journal.get("video_upload", "").startswith("upload:") and graph.posts() == []
    result = connector(graph).publish(post, journal)
    [asked] = graph.requests("GET", r"/upload:")
    assert asked.headers["Authorization"] == "OAuth user-token"
    resumed = graph.requests("POST", r"/upload:")[-1]
    assert resumed.headers["file_offset"] == "120000" and resumed.body == path.read_bytes()[120_000:]
    assert len(graph.requests("POST", rf"/{graph.app_id}/uploads$")) == 1
    assert graph.video_bytes[result.platform_post_id] == path.read_bytes()


def test_a_photo_facebook_would_not_take_is_refused_before_anything_is_sent(graph, tmp_path):
    path = tmp_path / "big.jpg"
    path.write_bytes(b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024))
    with pytest.raises(ConnectorError, match="Facebook takes photos under 10 MB"):
        connector(graph).publish(outgoing(media=(OutgoingMedia("image", path, "image/jpeg", "A big photo"),)), Journal())
    assert graph.received == []


def test_a_page_connected_without_a_user_token_is_asked_to_reconnect_before_a_video_is_sent(graph, tmp_path):
    _, post = video_post(tmp_path)
    with pytest.raises(ConnectorError, match="reconnect the Page"):
        FacebookConnector(graph.page_id, "page-token").publish(post, Journal())
    assert graph.received == []


def test_photos_and_a_video_in_one_post_are_refused_before_anything_is_sent(graph, tmp_path):
    media = (OutgoingMedia("image", tmp_path / "a.png", "image/png", ""), OutgoingMedia("video", tmp_path / "b.mp4", "video/mp4", ""))
    with pytest.raises(ConnectorError, match="either photos or one video"):
        connector(graph).publish(outgoing(media=media), Journal())
    assert graph.received == []


def test_a_post_with_a_publish_time_in_facebooks_window_is_scheduled_by_facebook(graph):
    when = timezone.now() + timedelta(hours=2)
    connector(graph).publish(outgoing(publish_at=when), Journal())
    [sent] = feed_posts(graph)
    assert sent.form["published"] == "false" and int(sent.form["scheduled_publish_time"]) == int(when.timestamp())
    assert graph.posts()[0]["scheduled_publish_time"] == int(when.timestamp())


def test_a_publish_time_already_reached_is_published_at_once(graph):
    connector(graph).publish(outgoing(publish_at=timezone.now() - timedelta(minutes=1)), Journal())
    assert "scheduled_publish_time" not in feed_posts(graph)[0].form and graph.posts()[0]["is_published"]


def test_every_call_gives_up_after_the_timeout(graph, settings):
    settings.CONNECTOR_TIMEOUT = 0.5
    graph.fail("GET", rf"/{graph.page_id}$", "act_then_hang")
    with pytest.raises(TryLater, match="did not answer"):
        connector(graph).check()


@pytest.mark.parametrize("subcode, why", [
    (458, "app was removed"), (459, "locked"), (460, "password was changed"), (463, "expired"), (467, "no longer valid"),
])
def test_a_token_revoked_between_approval_and_publishing_holds_the_post_and_shows_reconnect_needed(graph, page, office, approver, head, client, subcode, why):
    head.email = "head@aycliffe.kent.sch.uk"
    head.save()
    draft = published_text_draft(office, approver, page)
    graph.revoke("page-token", subcode=subcode)
    with pytest.raises(publishing.PublishRefused, match="Reconnect needed"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and why in draft.status_note and f"190/{subcode}" in draft.status_note
    connection = Connection.objects.get(channel=page)
    assert connection.status == Connection.Status.RECONNECT_NEEDED
    assert [m.to for m in mail.outbox] == [["head@aycliffe.kent.sch.uk"]] and "reconnect" in mail.outbox[0].subject.lower()
    assert AuditEntry.objects.filter(action="channel.reconnect_needed", channel=page).count() == 1
    client.force_login(head)
    assert "Reconnect needed" in client.get(f"/channels/{page.pk}/").content.decode()


def test_publishing_is_held_for_a_channel_that_needs_reconnecting_without_calling_facebook(graph, page, office, approver):
    Connection.objects.filter(channel=page).update(status=Connection.Status.RECONNECT_NEEDED, problem="error 190")
    draft = published_text_draft(office, approver, page)
    with pytest.raises(publishing.PublishRefused, match="must be reconnected"):
        publishing.publish(draft, approver)
    assert graph.received == []


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80001, 341])
def test_a_rate_limit_waits_and_is_tried_again_later(graph, page, office, approver, code):
    graph.fail("POST", r"/feed$", "error", status=400, body={"error": {"message": "(#%d) Rate limited" % code, "type": "OAuthException", "code": code}})
    draft = published_text_draft(office, approver, page)
    with pytest.raises(publishing.PublishWaiting) as waiting:
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.WAITING and f"error {code}" in draft.status_note
    assert waiting.value.retry_at >= timezone.now() + timedelta(minutes=4)
    assert publishing.retry_waiting(now=timezone.now()) == 0  # not before its time
    assert publishing.retry_waiting(now=waiting.value.retry_at + timedelta(seconds=1)) == 1
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED and len(graph.posts()) == 1


@pytest.mark.parametrize("code", [10, 200])
def test_a_permission_refused_on_one_call_holds_that_post_and_leaves_the_channel_connected(graph, page, office, approver, code):
    graph.fail("POST", r"/feed$", "error", status=403, body={"error": {"message": "(#%d) Permission denied" % code, "type": "OAuthException", "code": code}})
    draft = published_text_draft(office, approver, page)
    with pytest.raises(publishing.PublishRefused, match="lack of a permission"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and f"error {code}" in draft.status_note
    assert Connection.objects.get(channel=page).status != Connection.Status.RECONNECT_NEEDED


def test_a_duplicate_506_is_held_and_never_retried(graph, page, office, approver):
    graph.fail("POST", r"/feed$", "error", status=400, body={"error": {"message": "Duplicate status message", "type": "OAuthException", "code": 506}})
    draft = published_text_draft(office, approver, page)
    with pytest.raises(publishing.PublishRefused, match="duplicate"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD
    assert publishing.retry_waiting(now=timezone.now() + timedelta(days=1)) == 0
    assert len(feed_posts(graph)) == 1


def test_a_500_after_facebook_published_is_matched_to_the_page_and_not_sent_again(graph, page, office, approver):
    graph.fail("POST", r"/feed$", "act_then_error", status=500, body={"error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1}})
    post = publishing.publish(published_text_draft(office, approver, page), approver)
    assert len(feed_posts(graph)) == 1 and len(graph.posts()) == 1
    assert post.platform_post_id == graph.posts()[0]["id"]


def test_a_timeout_after_facebook_published_is_matched_to_the_page_and_not_sent_again(graph, page, office, approver, settings):
    settings.CONNECTOR_TIMEOUT = 1
    graph.fail("POST", r"/feed$", "act_then_hang")
    post = publishing.publish(published_text_draft(office, approver, page), approver)
    assert len(feed_posts(graph)) == 1 and post.platform_post_id == graph.posts()[0]["id"]


def test_a_non_json_answer_that_did_not_publish_is_sent_again_only_after_the_page_is_checked(graph, page, office, approver, settings):
    graph.fail("POST", r"/feed$", "html")  # a proxy's 502 page: Facebook never saw the post
    draft = published_text_draft(office, approver, page)
    with pytest.raises(publishing.PublishWaiting, match="not JSON"):
        publishing.publish(draft, approver)
    # Too soon to conclude: the Page is read again, nothing is sent.
    assert publishing.retry_waiting(now=timezone.now() + timedelta(minutes=3)) == 1
    assert len(feed_posts(graph)) == 1 and Draft.objects.get(pk=draft.pk).status == Draft.Status.WAITING
    # Long enough after the unclear answer: still not on the Page, so it is sent, once.
    sent_at = Delivery.objects.get(draft=draft).steps["sent_at"]
    Delivery.objects.filter(draft=draft).update(steps={"sent_at": (timezone.datetime.fromisoformat(sent_at) - timedelta(minutes=11)).isoformat()})
    assert publishing.retry_waiting(now=timezone.now() + timedelta(minutes=6)) == 1
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED
    assert len(feed_posts(graph)) == 2 and len(graph.posts()) == 1


def test_a_crash_after_an_ambiguous_facebook_500_does_not_publish_twice(graph, page, office, approver):
    # Facebook publishes and answers 500; the Page cannot be read either, so the process ends
    # knowing only that it sent the post. The journal in the database says so.
    graph.fail("POST", r"/feed$", "act_then_error", status=500, body={"error": {"message": "Please retry", "code": 2}})
    graph.fail("GET", r"/feed$", "error", status=500, body="Internal error")
    draft = published_text_draft(office, approver, page)
    with pytest.raises(publishing.PublishWaiting, match="cannot go out twice"):
        publishing.publish(draft, approver)
    assert Delivery.objects.get(draft=draft).steps["sent_at"]
    # Started again later (a new connector, from the database alone): it finds the post and sends nothing.
    assert publishing.retry_waiting(now=timezone.now() + timedelta(minutes=3)) == 1
    draft.refresh_from_db()
    assert draft.status == Draft.Status.PUBLISHED and draft.publication.platform_post_id == graph.posts()[0]["id"]
    assert len(feed_posts(graph)) == 1 and len(graph.posts()) == 1


def test_photos_uploaded_before_a_failure_are_not_uploaded_again(graph, page, office, approver):
    graph.fail("POST", r"/feed$", "error", status=400, body={"error": {"message": "(#4) Application request limit reached", "code": 4}})
    draft = approve(photo_draft(office, page, photos=2), office, approver)
    with pytest.raises(publishing.PublishWaiting):
        publishing.publish(draft, approver)
    publishing.retry_waiting(now=timezone.now() + timedelta(hours=1))
    assert Draft.objects.get(pk=draft.pk).status == Draft.Status.PUBLISHED
    assert len(graph.requests("POST", r"/photos$")) == 2 and len(feed_posts(graph)) == 2


def test_comments_are_read_across_every_page_of_answers(graph):
    result = connector(graph).publish(outgoing(), Journal())
    for number in range(130):
        graph.add_comment(result.platform_post_id, f"Comment {number}", author=f"Parent {number}")
    comments = list(connector(graph).comments(result.platform_post_id))
    assert [c.text for c in comments] == [f"Comment {n}" for n in range(130)]
    assert comments[7].author == "Parent 7" and comments[7].created_at is not None
    reads = graph.requests("GET", r"/comments$")
    assert len(reads) == 2 and all(r.query["access_token"] == "page-token" for r in reads)


def test_comments_are_read_across_pages_whose_next_address_carries_no_token(graph):
    # Meta's documented `next` addresses carry no access token; the SDK's own paging raises KeyError on them.
    result = connector(graph).publish(outgoing(), Journal())
    for number in range(230):
        graph.add_comment(result.platform_post_id, f"Comment {number}")
    comments = list(connector(graph).comments(result.platform_post_id))
    assert len(comments) == 230 and comments[-1].text == "Comment 229"
    assert [r.query.get("after") for r in graph.requests("GET", r"/comments$")] == [None, "100", "200"]


def test_a_post_is_taken_down_through_the_api(graph):
    result = connector(graph).publish(outgoing(), Journal())
    connector(graph).delete(result.platform_post_id)
    assert graph.requests("DELETE")[0].path.endswith(result.platform_post_id) and graph.posts() == []
    connector(graph).delete(result.platform_post_id)  # already gone: read back, and it cannot be read
    assert len(graph.requests("GET", rf"/{result.platform_post_id}$")) == 1


def test_a_post_facebook_will_not_delete_is_not_counted_as_removed(graph):
    # The refusal reads exactly like the answer for a post that is already gone.
    result = connector(graph).publish(outgoing(), Journal())
    graph.undeletable.add(result.platform_post_id)
    with pytest.raises(ConnectorError, match="still on the Page"):
        connector(graph).delete(result.platform_post_id)
    assert len(graph.posts()) == 1


def test_a_takedown_facebook_refuses_stays_pending_and_the_dsl_sees_why(graph, page, office, approver, head):
    from moderation.aftercare import concerns

    post = publishing.publish(published_text_draft(office, approver, page), approver)
    graph.undeletable.add(post.platform_post_id)
    said = concerns.take_down(post, head, "A parent asked for it to be removed")
    post.refresh_from_db()
    assert "still on the Page" in said and post.takedown_pending and "Delete it by hand" in post.takedown_error
    graph.undeletable.clear()
    assert concerns.retry_takedowns() == 1
    post.refresh_from_db()
    assert post.removed_from_platform_at is not None and graph.posts() == []


def test_the_daily_check_flags_a_dead_token_once_and_tells_the_headteacher(graph, page, head):
    from connectors import services as connections

    head.email = "head@aycliffe.kent.sch.uk"
    head.save()
    assert connections.check_due_connections(now=timezone.now() + timedelta(days=1)) == 1
    assert Connection.objects.get(channel=page).account_name == graph.page_name and mail.outbox == []
    graph.revoke("page-token", subcode=463)
    connections.check_due_connections(now=timezone.now() + timedelta(days=2))
    connection = Connection.objects.get(channel=page)
    assert connection.status == Connection.Status.RECONNECT_NEEDED and "expired" in connection.problem
    assert len(mail.outbox) == 1
    connections.check_due_connections(now=timezone.now() + timedelta(days=3))
    assert len(mail.outbox) == 1


def test_connect_facebook_exchanges_the_token_and_stores_the_page_token_encrypted(graph, facebook, head, settings, tmp_path, capsys):
    settings.FACEBOOK_APP_SECRET = graph.app_secret
    token_file = tmp_path / "token.txt"
    token_file.write_text("short-user-token\n")
    call_command("connect_facebook", channel=facebook.name, by="head", app_id=graph.app_id, user_token_file=str(token_file))
    connection = Connection.objects.get(channel=facebook)
    assert connection.account_id == graph.page_id and connection.account_name == graph.page_name
    assert connection.credentials()["page_token"] == "page-token-from-long-short-user-token"
    assert connection.credentials()["user_token"] == "long-short-user-token"  # uploads videos
    assert b"page-token" not in bytes(connection.secret)
    exchange = graph.requests("GET", r"/oauth/access_token$")[0]
    assert exchange.query["grant_type"] == "fb_exchange_token" and exchange.query["fb_exchange_token"] == "short-user-token"
    facebook.refresh_from_db()
    assert facebook.connector == "facebook" and AuditEntry.objects.filter(action="channel.connected").count() == 1
    assert "is connected" in capsys.readouterr().out


def test_connect_facebook_with_an_expired_user_token_says_so_and_changes_nothing(graph, facebook, head, settings, tmp_path):
    from django.core.management.base import CommandError

    settings.FACEBOOK_APP_SECRET = graph.app_secret
    token_file = tmp_path / "token.txt"
    token_file.write_text("an-old-token")
    with pytest.raises(CommandError, match="Session has expired"):
        call_command("connect_facebook", channel=facebook.name, by="head", app_id=graph.app_id, user_token_file=str(token_file))
    assert not Connection.objects.exists()


def test_only_a_headteacher_can_connect_a_channel(graph, facebook, office):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="only the headteacher"):
        call_command("connect_facebook", channel=facebook.name, by="office", app_id="x")


def test_a_token_revoked_before_a_scheduled_posts_time_holds_it_and_tells_the_author_and_approver(graph, page, office, approver, head):
    import time_machine

    from moderation.publishing import scheduling

    for user in (office, approver, head):
        user.email = f"{user.username}@aycliffe.kent.sch.uk"
        user.save()
    publish_at = timezone.now() + timedelta(hours=4)
    draft = approve(link_draft(office, page, text="Nativity tickets go on sale on Monday.", publish_at=publish_at), office, approver)
    graph.revoke("page-token", subcode=463)
    with time_machine.travel(publish_at + timedelta(seconds=5), tick=False):
        assert scheduling.publish_due() == 0
    draft.refresh_from_db()
    assert draft.status == Draft.Status.HELD and "Reconnect needed" in draft.status_note
    assert graph.posts() == []
    held = [m for m in mail.outbox if m.subject.endswith(f"Not published: {draft}")]
    assert len(held) == 1 and sorted(held[0].to) == ["approver@aycliffe.kent.sch.uk", "office@aycliffe.kent.sch.uk"]
    assert Connection.objects.get(channel=page).status == Connection.Status.RECONNECT_NEEDED
