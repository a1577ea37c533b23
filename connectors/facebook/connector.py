"""The school's Facebook Page, through facebook-sdk.

Photos go up unpublished and are then attached to one feed post (`attached_media[i]`), so one
photo or twenty take the same path; a video is its own post. Every step is written to the
publish's journal: a second attempt reuses the uploaded photos, and after an answer that leaves it
unclear whether the post went out (a 500, a timeout, a page that is not JSON) the Page's recent
posts are read and matched to the draft before anything is sent again. Facebook has answered 500
and still published.
"""

import json
import logging
from datetime import datetime, timedelta, timezone as dt_timezone

import facebook
import requests
from django.conf import settings
from django.utils import timezone

from connectors import services
from connectors.base import (
    FACEBOOK_PHOTO_MAX_BYTES, Comment, Connector, ConnectorError, Journal, OutgoingPost, PublishResult, ReconnectNeeded, TryLater, comment_time, file_sha256,
    register,
)
from connectors.facebook import client

logger = logging.getLogger(__name__)

# Rate limits: wait and try again. Page tokens fall under Business Use Case limits, which add
# 80001 ("There have been too many calls to this Page account") and 341 ("Application limit
# reached") to the classic 4, 17, 32 and 613 (Graph API, "Rate Limits" and "Error Handling").
RATE_LIMITS = {4, 17, 32, 613, 80001, 341}
TRANSIENT = {1, 2}
TOKEN_SUBCODES = {
    458: "the app was removed from the account",
    459: "the account is locked until its owner logs in to Facebook",
    460: "the account's password was changed",
    463: "the token has expired",
    467: "the token is no longer valid",
}
# Facebook's window for scheduled posts.
SCHEDULE_MIN, SCHEDULE_MAX = timedelta(minutes=10), timedelta(days=30)


class Ambiguous(Exception):
    """The call may or may not have taken effect."""


def _cannot_be_loaded(error) -> bool:
    """Graph's answer for an object that is gone, or that this token may not see or change."""
    return isinstance(error, facebook.GraphAPIError) and error.code == 100 and (
        "does not exist" in str(error.message) or "cannot be loaded" in str(error.message)
    )


def _retry_in(minutes: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def _regain_minutes(response) -> float:
    """Facebook says in a header how long a rate-limited app must wait, when it says it at all."""
    if response is None:
        return 0
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
        return max(float(u.get("estimated_time_to_regain_access") or 0) for entries in usage.values() for u in entries)
    except (ValueError, TypeError, AttributeError):
        return 0


@register
class FacebookConnector(Connector):
    key = "facebook"
    label = "Facebook Page (through the Graph API)"
    platform = "facebook"

    def __init__(self, page_id: str, page_token: str, channel_name: str = "The Facebook Page", *, app_id: str = "", user_token: str = ""):
        self.page_id, self.channel_name = page_id, channel_name
        # Videos go up through the Resumable Upload API, which takes the app's id and the token of
        # a person with a role on the app (a user token), not the Page's.
        self.app_id, self.user_token = app_id, user_token
        self.api = client.graph(page_token)

    @classmethod
    def for_channel(cls, channel) -> "FacebookConnector":
        connection = services.usable_connection(channel, "facebook")
        credentials = connection.credentials()
        return cls(connection.account_id, credentials["page_token"], str(channel),
                   app_id=credentials.get("app_id", ""), user_token=credentials.get("user_token", ""))

    # --- calls and their errors ---

    def _call(self, what: str, function, *, publishing: bool = False):
        """Run one SDK call; turn each way it can fail into the pipeline's words.

        publishing=True marks the call that makes a post visible: a failure that may have happened
        after Facebook acted raises Ambiguous, for the caller to settle by reading the Page.
        """
        try:
            return function()
        except requests.ConnectTimeout as error:
            raise TryLater(f"Facebook could not be reached to {what} ({error.__class__.__name__}).", _retry_in(5)) from error
        except (requests.Timeout, requests.ConnectionError) as error:
            if publishing:
                raise Ambiguous(f"no answer in {settings.CONNECTOR_TIMEOUT:g} s") from error
            raise TryLater(f"Facebook did not answer when asked to {what}: it will be tried again.", _retry_in(5)) from error
        except KeyError as error:  # the SDK reads Content-Type blindly
            if publishing:
                raise Ambiguous("an answer with no content type") from error
            raise TryLater(f"Facebook gave an answer that could not be read when asked to {what}.", _retry_in(5)) from error
        except facebook.GraphAPIError as error:
            raise self._translate(error, what, publishing) from error

    def _translate(self, error: facebook.GraphAPIError, what: str, publishing: bool) -> Exception:
        response = self.api.session.last_response
        status = response.status_code if response is not None else 0
        code = error.code
        subcode = None
        if isinstance(error.result, dict) and isinstance(error.result.get("error"), dict):
            subcode = error.result["error"].get("error_subcode")
        if code is None and not isinstance(error.result, dict):
            # Not JSON: a proxy's HTML page, or an empty answer.
            if publishing:
                return Ambiguous(f"an answer that was not JSON (HTTP {status or 'unknown'})")
            return TryLater(f"Facebook gave an answer that was not JSON (HTTP {status}) when asked to {what}.", _retry_in(5))
        if code == 190 or code == 102:
            why = TOKEN_SUBCODES.get(subcode, "the token is no longer valid")
            return ReconnectNeeded(f"Facebook no longer accepts the Page's token ({why}; error 190{f'/{subcode}' if subcode else ''}). The headteacher must reconnect the Page.")
        if code in (10, 200) or (isinstance(code, int) and 200 <= code <= 299):
            # One call refused for a permission holds that post, with the reason; the token still
            # works for everything else (only 190 and 102 mean it does not).
            return ConnectorError(f"Facebook refused to {what} for lack of a permission ({error.message}; error {code}). "
                                  "The headteacher can reconnect the Page and grant every permission asked for, then publish again.")
        if code in RATE_LIMITS:
            wait = max(_regain_minutes(response), settings.PUBLISH_RETRY_MINUTES)
            return TryLater(f"Facebook's rate limit was reached (error {code}): it will be tried again in {wait:g} minutes.", _retry_in(wait), reason="rate_limit")
        if code == 368:
            return TryLater("Facebook has temporarily blocked the Page from posting (error 368): it will be tried again in an hour.", _retry_in(60), reason="rate_limit")
        if code == 506:
            return ConnectorError("Facebook refused it as a duplicate of a post already on the Page (error 506). It was not sent again: check the Page.")
        if status >= 500 or code in TRANSIENT:
            if publishing:
                return Ambiguous(f"HTTP {status}, error {code}: {error.message}")
            return TryLater(f"Facebook had a temporary problem when asked to {what} (error {code}): it will be tried again.", _retry_in(5))
        return ConnectorError(f"Facebook refused to {what}: {error.message} (error {code}).")

    # --- publishing ---

    def publish(self, post: OutgoingPost, journal: Journal) -> PublishResult:
        photos = [m for m in post.media if m.kind == "image"]
        videos = [m for m in post.media if m.kind == "video"]
        if len(videos) > 1 or (videos and photos):
            raise ConnectorError("A Facebook post holds either photos or one video, not both: split the draft in two.")
        sent_at = journal.get("sent_at")
        if sent_at:
            # An earlier attempt sent the post and never learnt what happened: look before sending again.
            found = self._find(post, bool(videos), datetime.fromisoformat(sent_at))
            if found:
                return self._done(found, journal)
            if timezone.now() - datetime.fromisoformat(sent_at) < timedelta(minutes=settings.FACEBOOK_RECONCILE_MINUTES):
                raise TryLater(
                    "Facebook did not say whether the post went out, and the Page does not show it yet: it will be checked again before anything is sent.",
                    _retry_in(2), reason="ambiguous",
                )
            logger.warning("Draft %s: no post on the Page %s minutes after an unclear answer; sending again", post.draft_id, settings.FACEBOOK_RECONCILE_MINUTES)
            journal.forget("sent_at")
        schedule = self._schedule(post.publish_at)
        if videos:
            handle = self._upload_video(videos[0], journal)
            send = lambda: self._send_video(post, handle, schedule)  # noqa: E731
        else:
            fbids = [self._upload_photo(index, item, journal) for index, item in enumerate(photos)]
            send = lambda: self._send_feed(post, fbids, schedule)  # noqa: E731
        moment = timezone.now() - timedelta(seconds=5)
        journal.record("sent_at", moment.isoformat())
        try:
            answer = self._call("publish the post", send, publishing=True)
        except Ambiguous as unclear:
            logger.warning("Draft %s: unclear answer from Facebook (%s); reading the Page", post.draft_id, unclear)
            found = self._find(post, bool(videos), moment, quiet=True)
            if found:
                return self._done(found, journal)
            raise TryLater(
                f"Facebook gave an unclear answer ({unclear}) and the Page does not show the post yet. It will be checked again before anything is sent, so it cannot go out twice.",
                _retry_in(2), reason="ambiguous",
            ) from None
        except ConnectorError:
            journal.forget("sent_at")  # a clear refusal: nothing went out
            raise
        return self._done(answer["id"], journal)

    def _done(self, post_id: str, journal: Journal) -> PublishResult:
        journal.record("post_id", post_id)
        return PublishResult(post_id, f"https://www.facebook.com/{post_id}")

    @staticmethod
    def _schedule(publish_at) -> dict:
        """Facebook publishes the post itself when the time is 10 minutes to 30 days ahead."""
        if publish_at is None:
            return {}
        ahead = publish_at - timezone.now()
        if SCHEDULE_MIN <= ahead <= SCHEDULE_MAX:
            return {"published": "false", "scheduled_publish_time": str(int(publish_at.timestamp()))}
        return {}

    def _upload_photo(self, index: int, item, journal: Journal) -> str:
        key = f"photo:{index}"
        if journal.get(key):
            return journal.get(key)  # uploaded by an earlier attempt; Facebook keeps it for about a day
        try:
            size = item.path.stat().st_size
        except OSError as error:
            raise ConnectorError(f"Photo {index + 1} could not be read for upload: {error}") from error
        if size > FACEBOOK_PHOTO_MAX_BYTES:
            raise ConnectorError(f"Photo {index + 1} is {size / 1e6:.1f} MB as published; Facebook takes photos under 10 MB. Use a smaller photo.")

        def upload():
            with open(item.path, "rb") as source:
                return self.api.put_photo(source, album_path=f"{self.page_id}/photos", published="false", alt_text_custom=item.alt_text)

        try:
            fbid = self._call(f"upload photo {index + 1}", upload)["id"]
        except OSError as error:
            raise ConnectorError(f"Photo {index + 1} could not be read for upload: {error}") from error
        journal.record(key, str(fbid))
        return str(fbid)

    def _send_feed(self, post: OutgoingPost, fbids: list[str], schedule: dict) -> dict:
        fields = {**schedule}
        if post.text:
            fields["message"] = post.text
        if post.link:
            fields["link"] = post.link
        for index, fbid in enumerate(fbids):
            # Indexed keys, each a JSON object: a Python list would be garbled by the form encoding.
            fields[f"attached_media[{index}]"] = json.dumps({"media_fbid": fbid})
        return self.api.put_object(self.page_id, "feed", **fields)

    # --- videos: the Resumable Upload API, then the Page's video with the upload's handle ---
    # "Publish with the Video API" (developers.facebook.com/docs/video-api/guides/publishing): a
    # video is uploaded with the Resumable Upload API ("Upload a file",
    # developers.facebook.com/docs/graph-api/guides/upload): POST /{app-id}/uploads with
    # file_name, file_length and file_type gives "upload:<session>"; POST /upload:<session> with the
    # headers "Authorization: OAuth <user token>" and "file_offset" and the bytes as the body gives
    # {"h": handle}; GET /upload:<session> says how many bytes arrived ("file_offset") after an
    # interruption. Then POST /{page-id}/videos with fbuploader_video_file_chunk=<handle> and the
    # Page token. The graph.facebook.com host is used: the Video API overview calls the
    # graph-video host deprecated. The file is streamed from disk, never read whole into memory.

    def _upload_video(self, item, journal: Journal) -> str:
        if journal.get("video_handle"):
            return journal.get("video_handle")
        if not (self.app_id and self.user_token):
            raise ConnectorError(
                "Facebook's video upload needs the app's id and the token of a person with a role on the app, which this "
                "connection does not hold: the headteacher must reconnect the Page, then publish again."
            )
        try:
            size, fingerprint = item.path.stat().st_size, file_sha256(item.path)
        except OSError as error:
            raise ConnectorError(f"The video could not be read for upload: {error}") from error
        session, offset = journal.get("video_upload"), 0
        if session and journal.get("video_upload_sha256") != fingerprint:
            session = None  # another copy of the video: an unfinished upload never becomes a video
        if session:
            try:
                offset = int(self._upload_call("ask how much of the video Facebook holds", "GET", session).get("file_offset") or 0)
            except ConnectorError as error:
                if not _cannot_be_loaded(error.__cause__):
                    raise
                session = None  # Facebook no longer holds the session: start again
        if not session:
            answer = self._call("start the video's upload", lambda: self.api.request(
                f"{self.api.version}/{self.app_id}/uploads", method="POST",
                post_args={"file_name": item.path.name, "file_length": str(size), "file_type": "video/mp4", "access_token": self.user_token},
            ))
            session, offset = answer["id"], 0
            journal.record("video_upload", session)
            journal.record("video_upload_sha256", fingerprint)
        for _ in range(3):
            with open(item.path, "rb") as source:
                source.seek(offset)
                answer = self._upload_call("upload the video", "POST", session, data=source, headers={"file_offset": str(offset)})
            if answer.get("h"):
                journal.record("video_handle", answer["h"])
                journal.forget("video_upload")
                return answer["h"]
            offset = int(answer.get("file_offset") or offset)
        raise TryLater("Facebook has not confirmed the whole video upload yet: it will carry on from where it stopped.", _retry_in(5))

    def _upload_call(self, what: str, method: str, session: str, *, headers: dict | None = None, **kwargs) -> dict:
        """One raw call on an upload session (the SDK sends neither a body of bytes nor these headers)."""
        def call():
            response = self.api.session.request(
                method, f"{facebook.FACEBOOK_GRAPH_URL}{self.api.version}/{session}", timeout=settings.CONNECTOR_TIMEOUT,
                headers={"Authorization": f"OAuth {self.user_token}", **(headers or {})}, **kwargs,
            )
            try:
                body = response.json()
            except ValueError:
                body = None
            if not response.ok or not isinstance(body, dict) or "error" in body:
                raise facebook.GraphAPIError(body if isinstance(body, dict) else response.text)
            return body

        return self._call(what, call)

    def _send_video(self, post: OutgoingPost, handle: str, schedule: dict) -> dict:
        fields = {"description": post.text, "fbuploader_video_file_chunk": handle, **schedule}
        if post.title:
            fields["title"] = post.title
        return self.api.put_object(self.page_id, "videos", **fields)

    def _find(self, post: OutgoingPost, video: bool, since: datetime, quiet: bool = False) -> str | None:
        """The id of a post on the Page made since `since` that carries this draft's words."""
        edges = ["videos"] if video else ["feed", "scheduled_posts"]
        fields = "id,description,created_time" if video else "id,message,created_time"
        text = post.text.strip()
        for edge in edges:
            try:
                page = self._call("read the Page's recent posts", lambda: self.api.get_connections(self.page_id, edge, fields=fields, limit=25))
            except TryLater:
                if quiet:
                    return None
                raise
            for item in page.get("data", []):
                created = datetime.strptime(item["created_time"], "%Y-%m-%dT%H:%M:%S%z")
                words = (item.get("description") if video else item.get("message")) or ""
                if created >= since.astimezone(dt_timezone.utc) - timedelta(seconds=60) and words.strip() == text:
                    return item["id"]
        return None

    # --- after publishing ---

    def delete(self, platform_post_id: str) -> None:
        try:
            self._call("take the post down", lambda: self.api.delete_object(platform_post_id))
        except ConnectorError as error:
            if not _cannot_be_loaded(error.__cause__):
                raise
            # Graph gives the same answer ("does not exist, cannot be loaded due to missing
            # permissions, or does not support this operation") for a post already gone and for one
            # this token may not delete. Read it back: only a post that a working token cannot read
            # counts as removed.
            self._call("check the Page's token", lambda: self.api.get_object(self.page_id, fields="id"))
            try:
                self._call("read the post back", lambda: self.api.get_object(platform_post_id, fields="id"))
            except ConnectorError as unread:
                if _cannot_be_loaded(unread.__cause__):
                    return  # gone from the Page
                raise
            raise ConnectorError(
                f"Facebook would not delete the post and it is still on the Page ({error.__cause__.message}). "
                "Delete it by hand on Facebook now; the Page's connection may lack a permission (reconnect it, granting every permission asked for)."
            ) from error

    def comments(self, platform_post_id: str):
        # Cursors are followed here, with the token, rather than through the SDK's
        # get_all_connections: it raises KeyError on a `paging.next` address that carries no
        # access_token, as Meta's documented examples do not (Graph API, "Paginated Results").
        after = None
        while True:
            arguments = {"fields": "id,message,from,created_time,parent", "filter": "stream", "limit": 100, **({"after": after} if after else {})}
            page = self._call("read the comments", lambda: self.api.get_connections(platform_post_id, "comments", **arguments))
            for item in page.get("data", []):
                created = item.get("created_time")
                yield Comment(
                    comment_id=item["id"], author=(item.get("from") or {}).get("name", ""), text=item.get("message", ""),
                    created_at=comment_time(created, lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z")),
                    parent_id=(item.get("parent") or {}).get("id", ""),
                )
            paging = page.get("paging") or {}
            after = (paging.get("cursors") or {}).get("after")
            if not paging.get("next") or not after or not page.get("data"):
                return

    def check(self) -> str:
        answer = self._call("check the Page's token", lambda: self.api.get_object(self.page_id, fields="id,name"))
        return answer.get("name", "")
