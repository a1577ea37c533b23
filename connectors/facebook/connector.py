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

from connectors.base import (
    Comment, Connector, ConnectorError, Journal, OutgoingPost, PublishResult, ReconnectNeeded, TryLater, comment_time, register,
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

    def __init__(self, page_id: str, page_token: str, channel_name: str = "The Facebook Page"):
        self.page_id, self.channel_name = page_id, channel_name
        self.api = client.graph(page_token)

    @classmethod
    def for_channel(cls, channel) -> "FacebookConnector":
        from connectors import services

        connection = services.usable_connection(channel, "facebook")
        return cls(connection.account_id, connection.credentials()["page_token"], str(channel))

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
            send = lambda: self._send_video(post, videos[0], schedule)  # noqa: E731
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

    def _send_video(self, post: OutgoingPost, item, schedule: dict) -> dict:
        fields = {"description": post.text, **schedule}
        if post.title:
            fields["title"] = post.title
        with open(item.path, "rb") as source:
            return self.api.request(f"{self.api.version}/{self.page_id}/videos", post_args=fields, files={"source": source}, method="POST")

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
            cause = error.__cause__
            if isinstance(cause, facebook.GraphAPIError) and cause.code == 100 and "does not exist" in str(cause.message):
                return  # already gone from the Page
            raise

    def comments(self, platform_post_id: str):
        pages = self.api.get_all_connections(
            platform_post_id, "comments", fields="id,message,from,created_time,parent", filter="stream", limit=100
        )
        while True:
            item = self._call("read the comments", lambda: next(pages, None))
            if item is None:
                return
            created = item.get("created_time")
            yield Comment(
                comment_id=item["id"], author=(item.get("from") or {}).get("name", ""), text=item.get("message", ""),
                created_at=comment_time(created, lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z")),
                parent_id=(item.get("parent") or {}).get("id", ""),
            )

    def check(self) -> str:
        answer = self._call("check the Page's token", lambda: self.api.get_object(self.page_id, fields="id,name"))
        return answer.get("name", "")
