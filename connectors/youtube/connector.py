"""The school's private YouTube channel, through google-api-python-client and google-auth.

An upload always says `privacyStatus` (YouTube makes a video public when it is left out) and
`selfDeclaredMadeForKids`. It uses the resumable protocol, and the upload's address is written to
the publish's journal as soon as YouTube gives it, so an upload stopped by a crash or a dropped
connection carries on from the byte YouTube holds. The quota each call costs is counted per
(Pacific) day in Google's two buckets (uploads, and units for everything else); a publish that
would go over either waits for the next day.
"""

import json
import logging
from datetime import datetime, timedelta

import httplib2
from django.conf import settings
from django.utils import timezone
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError, ResumableUploadError
from googleapiclient.http import MediaFileUpload

from connectors import services
from connectors.base import (
    Comment, Connector, ConnectorError, Journal, OutgoingPost, PublishResult, ReconnectNeeded, TryLater, comment_time, file_sha256,
    register,
)
from connectors.models import QuotaDay
from connectors.youtube import client

logger = logging.getLogger(__name__)

# Units each call costs from the 10,000 a day; videos.insert spends one call of its own bucket
# instead ("Quota calculator": search.list and videos.insert "have their own quota buckets ...
# The quota cost is 1 per call").
THUMBNAIL_COST, DELETE_COST, LIST_COST = 50, 50, 1
NETWORK_ERRORS = (httplib2.HttpLib2Error, OSError, TransportError)
# How many times a thumbnail that YouTube could not take now is tried before the video is published
# without it: the video is up and private, and must not wait for ever for its picture.
THUMBNAIL_ATTEMPTS = 3
# "If you get a 400 error with the reason 'uploadLimitExceeded' ... try again in 24 hours" (YouTube
# Data API revision history: a channel's uploads in 24 hours are limited as in YouTube Studio).
UPLOAD_LIMIT_WAIT = timedelta(hours=24)


def _reason(error: HttpError) -> str:
    try:
        body = json.loads(error.content.decode("utf-8", "replace"))
        return body["error"]["errors"][0]["reason"]
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return ""


@register
class YouTubeConnector(Connector):
    key = "youtube"
    label = "YouTube channel (through the YouTube Data API)"
    platform = "youtube"

    def __init__(self, channel, connection):
        self.channel, self.connection = channel, connection
        self.creds = client.credentials(connection.credentials())
        self.api, self.http = client.service(self.creds)
        self._token = self.creds.token

    @classmethod
    def for_channel(cls, channel) -> "YouTubeConnector":
        return cls(channel, services.usable_connection(channel, "youtube"))

    # --- calls, quota and errors ---

    def _keep_refreshed_token(self):
        # Google hands out a new access token every hour: store it, so the next call need not refresh.
        if self.creds.token != self._token:
            self._token = self.creds.token
            self.connection.save_credentials(json.loads(self.creds.to_json()))

    def _need(self, units: int, uploads: int = 0):
        for bucket, needed, limit, words in (
            (QuotaDay.UNITS, units, settings.YOUTUBE_DAILY_QUOTA, "units"),
            (QuotaDay.UPLOADS, uploads, settings.YOUTUBE_DAILY_UPLOADS, "uploads"),
        ):
            spent = QuotaDay.spent(self.channel, bucket=bucket)
            if needed and spent + needed > limit:
                reset = QuotaDay.next_reset()
                raise TryLater(
                    f"YouTube's daily quota for this channel would be exceeded ({spent:,} of {limit:,} {words} used today; this needs {needed:,}). "
                    f"It waits until the quota starts again at {timezone.localtime(reset):%H:%M on %d %B}.",
                    reset, reason="quota",
                )

    def _translate(self, error: Exception, what: str, bucket: str = QuotaDay.UNITS) -> Exception:
        if isinstance(error, RefreshError) and getattr(error, "retryable", False):
            # google-auth marks a 5xx (or "temporarily_unavailable") from the token endpoint as
            # retryable: Google's sign-in service is having an outage; the token is fine.
            return TryLater(
                f"Google's sign-in service did not answer properly when asked to {what} ({error.args[0] if error.args else error}): it will be tried again.",
                timezone.now() + timedelta(minutes=settings.PUBLISH_RETRY_MINUTES),
            )
        if isinstance(error, RefreshError):
            return ReconnectNeeded(
                f"Google no longer lets the product use the channel: the refresh token was revoked or has expired ({error.args[0] if error.args else error}). "
                "The headteacher must reconnect the channel."
            )
        if isinstance(error, HttpError):
            status, reason = error.resp.status, _reason(error)
            if reason in ("quotaExceeded", "dailyLimitExceeded"):
                limit = settings.YOUTUBE_DAILY_UPLOADS if bucket == QuotaDay.UPLOADS else settings.YOUTUBE_DAILY_QUOTA
                QuotaDay.exhaust(self.channel, limit, bucket=bucket)
                reset = QuotaDay.next_reset()
                return TryLater(
                    f"YouTube says the channel's daily quota is used up. It waits until the quota starts again at {timezone.localtime(reset):%H:%M on %d %B}.",
                    reset, reason="quota",
                )
            if reason == "uploadLimitExceeded":
                return TryLater(
                    f"YouTube says the channel has uploaded as many videos as it may in 24 hours (uploadLimitExceeded). "
                    f"It will be tried again at {timezone.localtime(timezone.now() + UPLOAD_LIMIT_WAIT):%H:%M on %d %B}.",
                    timezone.now() + UPLOAD_LIMIT_WAIT, reason="quota",
                )
            if status == 429 or reason in ("rateLimitExceeded", "userRateLimitExceeded"):
                return TryLater(f"YouTube's rate limit was reached when asked to {what}: it will be tried again.", timezone.now() + timedelta(minutes=settings.PUBLISH_RETRY_MINUTES), reason="rate_limit")
            if status == 401 or reason in ("authError", "insufficientPermissions"):
                return ReconnectNeeded(f"YouTube refused the channel's credentials when asked to {what} ({reason or status}). The headteacher must reconnect the channel.")
            if status >= 500:
                return TryLater(f"YouTube had a temporary problem (HTTP {status}) when asked to {what}: it will be tried again.", timezone.now() + timedelta(minutes=settings.PUBLISH_RETRY_MINUTES))
            message = getattr(error, "reason", "") or reason or f"HTTP {status}"
            return ConnectorError(f"YouTube refused to {what}: {message}.")
        if isinstance(error, NETWORK_ERRORS):
            return TryLater(f"YouTube could not be reached or stopped answering when asked to {what} ({error.__class__.__name__}): it will be tried again.", timezone.now() + timedelta(minutes=settings.PUBLISH_RETRY_MINUTES))
        raise error

    def _execute(self, what: str, request, cost: int):
        try:
            answer = request.execute(num_retries=0)
        except (RefreshError, HttpError, *NETWORK_ERRORS) as error:
            QuotaDay.spend(self.channel, cost)  # "All API requests, including invalid requests, incur a quota cost"
            raise self._translate(error, what) from error
        finally:
            self._keep_refreshed_token()
        QuotaDay.spend(self.channel, cost)
        return answer

    # --- publishing ---

    def publish(self, post: OutgoingPost, journal: Journal) -> PublishResult:
        if post.privacy not in ("private", "unlisted"):
            raise ConnectorError(f"A YouTube upload is private (or unlisted where the school allows it), never '{post.privacy}'. Nothing was sent.")
        if post.privacy == "unlisted" and not self.channel.school.allow_youtube_unlisted:
            raise ConnectorError("The school's configuration does not allow unlisted YouTube uploads. Nothing was sent.")
        videos = [m for m in post.media if m.kind == "video"]
        if len(videos) != 1 or len(post.media) != 1:
            raise ConnectorError("A YouTube post is exactly one video, with nothing else attached. Nothing was sent.")
        item = videos[0]
        video_id = journal.get("video_id")
        if not video_id:
            self._need((THUMBNAIL_COST if item.thumbnail else 0) + LIST_COST, uploads=1)
            video_id = self._upload(post, item, journal)
        if item.thumbnail and not journal.get("thumbnail_set") and not journal.get("thumbnail_problem"):
            self._thumbnail_once_more(video_id, item.thumbnail, journal)
        try:
            state = self.platform_state(video_id)
        except ConnectorError as error:  # the video is up; its processing can be read later
            state = f"Not known yet: {error}"
        return PublishResult(video_id, f"https://www.youtube.com/watch?v={video_id}", state,
                             thumbnail_problem=journal.get("thumbnail_problem", ""))

    def _thumbnail_once_more(self, video_id: str, path, journal: Journal) -> None:
        """One attempt at the checked thumbnail, during a publish. The video is already up (private)
        and is never uploaded again: a thumbnail YouTube refuses, or still cannot take after a few
        attempts, leaves the video published with YouTube's own pick of its frames (all of them
        checked) and a note on the post saying why, with "Set the thumbnail again" beside it."""
        try:
            self.set_thumbnail(video_id, path)
        except ReconnectNeeded:
            raise
        except TryLater as error:
            attempts = journal.get("thumbnail_attempts", 0) + (0 if error.reason == "quota" else 1)
            journal.record("thumbnail_attempts", attempts)
            if attempts < THUMBNAIL_ATTEMPTS:
                raise
            journal.record("thumbnail_problem", f"YouTube could not take the thumbnail after {attempts} attempts ({error})")
            return
        except ConnectorError as error:
            journal.record("thumbnail_problem", str(error))
            return
        journal.record("thumbnail_set", True)

    def set_thumbnail(self, video_id: str, path) -> None:
        """Sets the checked JPEG as the video's thumbnail; raises the pipeline's errors."""
        self._need(THUMBNAIL_COST)
        request = self.api.thumbnails().set(videoId=video_id, media_body=MediaFileUpload(str(path), mimetype="image/jpeg"))
        try:
            self._execute("set the video's thumbnail", request, THUMBNAIL_COST)
        except ConnectorError as error:
            cause = error.__cause__
            if isinstance(cause, HttpError) and cause.resp.status == 403 and _reason(cause) == "forbidden":
                # thumbnails.set: 403 forbidden, "The authenticated user doesn't have permissions to
                # upload and set custom video thumbnails" -- a channel that is not verified.
                raise ConnectorError(
                    "YouTube did not take the checked thumbnail: custom thumbnails need a verified channel "
                    "(YouTube Studio, Settings, Channel, Feature eligibility). Until then YouTube shows a frame of the published video of its own choosing."
                ) from cause
            raise

    def _upload(self, post: OutgoingPost, item, journal: Journal) -> str:
        body = {
            "snippet": {"title": post.title or post.channel_name, "description": post.text, "categoryId": settings.YOUTUBE_CATEGORY_ID},
            "status": {"privacyStatus": post.privacy, "selfDeclaredMadeForKids": post.made_for_kids},
        }
        media = MediaFileUpload(str(item.path), mimetype=item.content_type, chunksize=settings.YOUTUBE_UPLOAD_CHUNK_BYTES, resumable=True)
        request = self.api.videos().insert(
            part="snippet,status", body=body, notifySubscribers=settings.YOUTUBE_NOTIFY_SUBSCRIBERS, media_body=media
        )
        fingerprint = file_sha256(item.path)
        uri = journal.get("upload_uri")
        if uri and journal.get("upload_sha256") != fingerprint:
            # The copy made for this attempt is not byte for byte the one being uploaded: start again
            # (an unfinished upload never becomes a video).
            logger.warning("Draft %s: the video differs from the interrupted upload's; uploading it again", post.draft_id)
            journal.forget("upload_uri")
            uri = None
        if uri:
            request.resumable_uri = uri
            # The client's own recovery path: first ask YouTube which byte it holds, then go on from there.
            request._in_error_state = True

        def started(location):
            journal.record("upload_sha256", fingerprint)
            journal.record("upload_uri", location)
            QuotaDay.spend(self.channel, 1, bucket=QuotaDay.UPLOADS)

        http = client.RecordingHttp(self.http, started)
        size = media.size() or 1
        response = None
        while response is None:
            try:
                status, response = request.next_chunk(http=http, num_retries=0)
            except ResumableUploadError as error:  # the insert itself was refused, before any byte was sent
                QuotaDay.spend(self.channel, 1, bucket=QuotaDay.UPLOADS)
                raise self._translate(error, "start the video's upload", bucket=QuotaDay.UPLOADS) from error
            except HttpError as error:
                if uri and error.resp.status in (404, 410):
                    journal.forget("upload_uri")  # YouTube forgot the session (about a week): start again
                    raise TryLater("YouTube no longer holds the interrupted upload: it will start again.", timezone.now()) from error
                raise self._translate(error, "upload the video") from error
            except (RefreshError, *NETWORK_ERRORS) as error:
                done = journal.get("upload_progress", [0])[0]
                translated = self._translate(error, "upload the video")
                if isinstance(translated, TryLater) and isinstance(error, NETWORK_ERRORS):
                    translated = TryLater(
                        f"The upload to YouTube stopped at {100 * done // size}% ({error.__class__.__name__}). It will carry on from where it stopped.",
                        translated.retry_at, reason=translated.reason,
                    )
                raise translated from error
            finally:
                self._keep_refreshed_token()
            if status is not None:
                journal.record("upload_progress", [status.resumable_progress, size])
        video_id = response["id"]
        journal.record("video_id", video_id)
        journal.forget("upload_uri")
        logger.info("Draft %s uploaded to YouTube as %s (%s)", post.draft_id, video_id, response.get("status", {}).get("privacyStatus"))
        return video_id

    # --- after publishing ---

    def platform_state(self, platform_post_id: str) -> str:
        self._need(LIST_COST)
        answer = self._execute("read the video's processing status", self.api.videos().list(part="status,processingDetails", id=platform_post_id), LIST_COST)
        items = answer.get("items") or []
        if not items:
            return "YouTube does not show this video (it may have been removed)."
        status, processing = items[0].get("status", {}), items[0].get("processingDetails", {})
        if status.get("uploadStatus") in ("failed", "rejected"):
            why = status.get("failureReason") or status.get("rejectionReason") or "no reason given"
            return f"YouTube {status['uploadStatus']} the video: {why}."
        if processing.get("processingStatus") == "processing" or status.get("uploadStatus") == "uploaded":
            return "YouTube is still processing the video."
        return ""

    def delete(self, platform_post_id: str) -> None:
        self._need(DELETE_COST)
        try:
            self._execute("delete the video", self.api.videos().delete(id=platform_post_id), DELETE_COST)
        except ConnectorError as error:
            cause = error.__cause__
            if isinstance(cause, HttpError) and cause.resp.status == 404:
                return  # already gone
            raise

    def comments(self, platform_post_id: str):
        request = self.api.commentThreads().list(part="snippet,replies", videoId=platform_post_id, maxResults=100, textFormat="plainText")
        while request is not None:
            self._need(LIST_COST)
            try:
                answer = self._execute("read the comments", request, LIST_COST)
            except ConnectorError as error:
                if isinstance(error.__cause__, HttpError) and _reason(error.__cause__) == "commentsDisabled":
                    return
                raise
            for thread in answer.get("items", []):
                top = thread["snippet"]["topLevelComment"]
                yield self._comment(top)
                inline = (thread.get("replies") or {}).get("comments", [])
                if thread["snippet"].get("totalReplyCount", 0) > len(inline):
                    # "A limited number of replies. Unless the number of replies returned equals
                    # total_reply_count ... only a subset" (discovery document, CommentThreadReplies).
                    # All of them are read with comments.list(parentId=...): no reply of concern is missed.
                    yield from self._replies(thread["id"])
                else:
                    for reply in inline:
                        yield self._comment(reply, parent=thread["id"])
            request = self.api.commentThreads().list_next(request, answer)

    def _replies(self, thread_id: str):
        request = self.api.comments().list(part="snippet", parentId=thread_id, maxResults=100, textFormat="plainText")
        while request is not None:
            self._need(LIST_COST)
            answer = self._execute("read the replies to a comment", request, LIST_COST)
            for reply in answer.get("items", []):
                yield self._comment(reply, parent=thread_id)
            request = self.api.comments().list_next(request, answer)

    @staticmethod
    def _comment(item: dict, parent: str = "") -> Comment:
        snippet = item["snippet"]
        published = snippet.get("publishedAt")
        return Comment(
            comment_id=item["id"], author=snippet.get("authorDisplayName", ""),
            text=snippet.get("textOriginal") or snippet.get("textDisplay", ""),
            created_at=comment_time(published, lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))), parent_id=parent,
        )

    def check(self) -> str:
        self._need(LIST_COST)
        answer = self._execute("check the channel's token", self.api.channels().list(part="id,snippet", mine=True), LIST_COST)
        items = answer.get("items") or []
        if not items:
            raise ReconnectNeeded("The connected Google account has no YouTube channel. The headteacher must reconnect with the channel's account.")
        if self.connection.account_id and items[0]["id"] != self.connection.account_id:
            raise ReconnectNeeded(f"The connected Google account now manages channel {items[0]['id']}, not {self.connection.account_id}. The headteacher must reconnect.")
        return items[0]["snippet"].get("title", "")
