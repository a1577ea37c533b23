"""The channel's page: the headteacher connects, checks and disconnects its platform account."""

import json
from urllib.parse import urlsplit

import pytest
import requests

from connectors.models import Connection
from config.school.models import AuditEntry


def test_the_headteacher_connects_the_facebook_page_from_the_channels_page(graph, facebook, head, client):
    client.force_login(head)
    page = client.get(f"/channels/{facebook.pk}/").content.decode()
    assert "Not connected" not in page and "local outbox" in page and "Connect the Facebook Page" in page
    answer = client.post(f"/channels/{facebook.pk}/connection/facebook/", {
        "app_id": graph.app_id, "app_secret": graph.app_secret, "user_token": "short-user-token", "page_id": "",
    }, follow=True)
    assert "Connected to the Facebook Page" in answer.content.decode()
    connection = Connection.objects.get(channel=facebook)
    assert connection.status == "connected" and connection.connected_by == head
    page = client.get(f"/channels/{facebook.pk}/").content.decode()
    assert graph.page_name in page and "Check the connection now" in page


def test_the_channels_page_says_plainly_when_the_facebook_app_is_not_said_to_be_live(graph, facebook, head, client):
    client.force_login(head)
    form = {"app_id": graph.app_id, "app_secret": graph.app_secret, "user_token": "short-user-token", "page_id": ""}
    assert "The app must be Live" in client.get(f"/channels/{facebook.pk}/connection/facebook/").content.decode()
    client.post(f"/channels/{facebook.pk}/connection/facebook/", form)
    page = client.get(f"/channels/{facebook.pk}/").content.decode()
    assert "not said to be Live" in page and "visible only to the app's admins" in page
    graph.short_user_tokens.add("short-user-token")  # a fresh token, for the reconnection
    client.post(f"/channels/{facebook.pk}/connection/facebook/", {**form, "app_is_live": "on"})
    page = client.get(f"/channels/{facebook.pk}/").content.decode()
    assert "not said to be Live" not in page and "Live, as said by whoever connected the Page" in page


def test_a_refused_facebook_connection_says_why_and_stores_nothing(graph, facebook, head, client):
    client.force_login(head)
    answer = client.post(f"/channels/{facebook.pk}/connection/facebook/", {
        "app_id": graph.app_id, "app_secret": "wrong", "user_token": "short-user-token",
    })
    assert "Invalid application ID or secret" in answer.content.decode() and not Connection.objects.exists()


@pytest.mark.parametrize("who", ["office", "approver", "dsl"])
def test_only_the_headteacher_can_connect_check_or_disconnect(graph, page, client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert "Only the headteacher connects" in client.get(f"/channels/{page.pk}/").content.decode()
    assert client.get(f"/channels/{page.pk}/connection/facebook/").status_code == 403
    assert client.post(f"/channels/{page.pk}/connection/check/").status_code == 403
    assert client.post(f"/channels/{page.pk}/connection/disconnect/").status_code == 403
    assert Connection.objects.filter(channel=page).exists()


def test_checking_now_shows_what_facebook_said(graph, page, head, client):
    client.force_login(head)
    assert "The connection works" in client.post(f"/channels/{page.pk}/connection/check/", follow=True).content.decode()
    graph.revoke("page-token", subcode=458)
    answer = client.post(f"/channels/{page.pk}/connection/check/", follow=True).content.decode()
    assert "Reconnect needed" in answer and "app was removed" in answer


def test_disconnecting_erases_the_tokens_and_sends_posts_to_the_outbox(graph, page, head, client):
    client.force_login(head)
    client.post(f"/channels/{page.pk}/connection/disconnect/")
    page.refresh_from_db()
    assert page.connector == "outbox" and not Connection.objects.exists()
    assert AuditEntry.objects.filter(action="channel.disconnected", channel=page).exists()


def test_the_headteacher_connects_youtube_through_googles_consent_page(youtube_api, youtube, head, client, settings, tmp_path, monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test site and the emulator speak plain HTTP
    config = youtube_api.client_config()
    secrets_file = tmp_path / "web_client.json"
    secrets_file.write_text(json.dumps({"web": {**config["installed"], "redirect_uris": ["http://testserver/connection/youtube/done/"]}}))
    settings.GOOGLE_OAUTH_CLIENT_FILE = str(secrets_file)
    client.force_login(head)
    to_google = client.post(f"/channels/{youtube.pk}/connection/youtube/")
    assert to_google.url.startswith(youtube_api.auth_uri) and "prompt=consent" in to_google.url
    back = requests.get(to_google.url, allow_redirects=False, timeout=10).headers["Location"]
    done = client.get(urlsplit(back).path + "?" + urlsplit(back).query, follow=True)
    assert "Connected to the YouTube channel" in done.content.decode()
    connection = Connection.objects.get(channel=youtube)
    assert connection.account_id == youtube_api.channel_id and connection.credentials()["refresh_token"] in youtube_api.refresh_tokens


def test_an_answer_from_google_that_was_not_asked_for_here_is_refused(youtube, head, client):
    client.force_login(head)
    assert client.get("/connection/youtube/done/?code=stolen&state=forged").status_code == 403
    assert not Connection.objects.exists()


def test_without_a_web_oauth_client_the_page_points_to_the_command(youtube, head, client, settings):
    settings.GOOGLE_OAUTH_CLIENT_FILE = ""
    client.force_login(head)
    answer = client.post(f"/channels/{youtube.pk}/connection/youtube/", follow=True).content.decode()
    assert "connect_youtube" in answer and not Connection.objects.exists()


@pytest.mark.parametrize("who, sees", [("head", True), ("dsl", True), ("office", False)])
def test_the_leadership_home_page_says_which_channel_needs_reconnecting(graph, page, client, request, who, sees):
    from connectors import services as connections

    connections.mark_reconnect_needed(page, "Facebook no longer accepts the Page's token.")
    client.force_login(request.getfixturevalue(who))
    assert ("needs reconnecting" in client.get("/").content.decode()) == sees
