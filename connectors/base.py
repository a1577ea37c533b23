"""What every connector shares. One platform, one package beside this file.

A connector hands one checked post to one platform. It reports what went wrong with one of the
exceptions below, so that the pipeline knows whether to hold the post for a person, wait and try
again, or ask the headteacher to reconnect the account. It never decides whether a post may be
published: the gates did that.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterator


class ConnectorError(Exception):
    """The platform refused the post, for a reason a person must settle. The message says which."""


class ReconnectNeeded(ConnectorError):
    """The stored token no longer works (revoked, expired, password changed): the account must be connected again."""


class TryLater(ConnectorError):
    """Nothing is wrong with the post, but the platform cannot take it now (rate limit, daily quota,
    an outage, or an answer that leaves it unclear whether the post went out). retry_at says when."""

    def __init__(self, message: str, retry_at: datetime, *, reason: str = "unavailable"):
        super().__init__(message)
        self.retry_at = retry_at
        self.reason = reason


def shape_problem(channel_kind: str, media_kinds: list[str], *, complete: bool = True) -> str:
    """What the platform cannot carry in one post, in words; "" when it can.

    complete=False judges a draft still being written: a YouTube draft may not have its video yet.
    """
    videos, photos = media_kinds.count("video"), media_kinds.count("image")
    if channel_kind == "youtube":
        if photos:
            return "A YouTube post is one video: photos cannot go with it. Put them in a draft for the Facebook Page."
        if videos > 1:
            return "A YouTube post is one video: put each video in a draft of its own."
        if complete and not videos:
            return "A YouTube post is one video: add it."
    elif channel_kind == "facebook" and videos and (photos or videos > 1):
        return "A Facebook post holds photos or one video, not both and not two videos: put them in separate drafts."
    return ""


# YouTube's videos.insert: "The property value has a maximum length of 100 characters" (title)
# and "5000 bytes" (description); both "may contain all valid UTF-8 characters except < and >"
# (YouTube Data API, Videos resource, snippet.title and snippet.description).
YOUTUBE_TITLE_MAX_CHARACTERS = 100
YOUTUBE_DESCRIPTION_MAX_BYTES = 5000
# YouTube: videos.insert takes up to 274,877,906,944 bytes ("maxSize" in the discovery document
# bundled with google-api-python-client), and videos longer than 15 minutes only from a verified
# channel (YouTube Help, "Upload videos longer than 15 minutes"); a new school channel often is not.
YOUTUBE_VIDEO_MAX_BYTES = 274_877_906_944
YOUTUBE_VIDEO_MAX_SECONDS = 15 * 60
# Facebook: a post's words are cut at 63,206 characters (Facebook's announcement of the limit; the
# Graph API reference gives none). A photo is "under 10 MB" (Page photos). A video sent with the
# resumable upload may be "up to 1.75GB and 45 minutes long" (Graph API, "Video Uploads").
FACEBOOK_TEXT_MAX_CHARACTERS = 63_206
FACEBOOK_PHOTO_MAX_BYTES = 10 * 1024 * 1024
FACEBOOK_VIDEO_MAX_BYTES = 1_750_000_000
FACEBOOK_VIDEO_MAX_SECONDS = 45 * 60
VIDEO_LIMITS = {
    "youtube": ("YouTube", YOUTUBE_VIDEO_MAX_BYTES, YOUTUBE_VIDEO_MAX_SECONDS, " from a channel that is not verified"),
    "facebook": ("Facebook", FACEBOOK_VIDEO_MAX_BYTES, FACEBOOK_VIDEO_MAX_SECONDS, ""),
}


def media_problem(channel_kind: str, kind: str, size: int, seconds: float | None = None) -> str:
    """What the platform would refuse in one photo or video, in words; "" when it takes it."""
    if kind == "video" and channel_kind in VIDEO_LIMITS:
        platform, max_bytes, max_seconds, whose = VIDEO_LIMITS[channel_kind]
        if size > max_bytes:
            return f"{platform} takes videos of at most {max_bytes / 1e9:g} GB; this one is {size / 1e9:.2f} GB."
        if seconds and seconds > max_seconds:
            return f"{platform} takes videos of at most {max_seconds // 60} minutes{whose}; this one lasts {seconds / 60:.0f} minutes. Shorten it."
    return ""


def text_problem(channel_kind: str, title: str, text: str) -> str:
    """What the platform would refuse in a post's words, in words; "" when it takes them."""
    if channel_kind == "facebook" and len(text) > FACEBOOK_TEXT_MAX_CHARACTERS:
        return f"A Facebook post is at most {FACEBOOK_TEXT_MAX_CHARACTERS:,} characters; this one has {len(text):,}. Shorten it."
    if channel_kind != "youtube":
        return ""
    if len(title) > YOUTUBE_TITLE_MAX_CHARACTERS:
        return f"A YouTube title is at most {YOUTUBE_TITLE_MAX_CHARACTERS} characters; this one has {len(title)}."
    size = len(text.encode("utf-8"))
    if size > YOUTUBE_DESCRIPTION_MAX_BYTES:
        return (f"A YouTube description is at most {YOUTUBE_DESCRIPTION_MAX_BYTES:,} bytes; this one has {size:,} "
                "(letters with accents and emoji take more than one). Shorten it.")
    for where, words in (("title", title), ("description", text)):
        if "<" in words or ">" in words:
            return f"YouTube refuses < and > in a video's {where}: use other words or brackets."
    return ""


@dataclass(frozen=True)
class OutgoingMedia:
    kind: str
    path: Path
    content_type: str
    alt_text: str
    thumbnail: Path | None = None  # a video's checked thumbnail (JPEG), to be set on the platform


@dataclass(frozen=True)
class OutgoingPost:
    """Exactly what the pipeline checked, handed to a platform."""

    draft_id: int
    content_hash: str
    channel_name: str
    channel_kind: str
    account_id: str
    privacy: str
    text: str
    title: str
    link: str
    publish_at: datetime | None
    media: tuple[OutgoingMedia, ...] = field(default=())
    made_for_kids: bool = False


@dataclass(frozen=True)
class PublishResult:
    platform_post_id: str
    url: str = ""
    # Where the platform still works on the post (a YouTube video being processed), in words.
    platform_state: str = ""
    # Why the platform did not take the video's checked thumbnail ("" when it did, or there was none).
    thumbnail_problem: str = ""


@dataclass(frozen=True)
class Comment:
    comment_id: str
    author: str
    text: str
    created_at: datetime | None
    parent_id: str = ""


def file_sha256(path) -> str:
    """The SHA-256 of a file, read in blocks: a resumed upload must be of exactly the same bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def comment_time(value, parse) -> datetime | None:
    """When a comment was written, by the platform's own format; None when it is missing or
    cannot be understood. A comment is read for its words: one odd date must never stop the
    others (or this one) from being read."""
    if not value:
        return None
    try:
        return parse(str(value))
    except (TypeError, ValueError, OverflowError):
        return None


class Journal:
    """What a publish has done so far, kept where a crash cannot lose it.

    A connector records each step (an uploaded photo's id, a resumable upload's address, the moment
    the final call was sent) as soon as it happens, and reads them back when it is asked to publish
    the same post again, so nothing is sent twice. The pipeline passes a journal stored in the
    database; this in-memory one serves connectors that need none and the tests of the base.
    """

    def __init__(self):
        self.steps: dict = {}

    def get(self, key: str, default=None):
        return self.steps.get(key, default)

    def record(self, key: str, value) -> None:
        self.steps[key] = value

    def forget(self, key: str) -> None:
        self.steps.pop(key, None)


class Connector:
    key = ""
    label = ""
    # The channel kind the connector publishes to ("" for any: the outbox).
    platform = ""

    @classmethod
    def for_channel(cls, channel) -> "Connector":
        return cls()

    def publish(self, post: OutgoingPost, journal: Journal) -> PublishResult:  # pragma: no cover - overridden
        raise NotImplementedError

    def delete(self, platform_post_id: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def comments(self, platform_post_id: str) -> Iterator[Comment]:  # pragma: no cover - overridden
        raise NotImplementedError

    def check(self) -> str:
        """Prove the stored token still works; returns the account's name. Raises ReconnectNeeded."""
        return self.label

    def platform_state(self, platform_post_id: str) -> str:
        """What the platform still does with a published post, in words; "" when nothing."""
        return ""

    def set_thumbnail(self, platform_post_id: str, path: Path) -> None:
        """Set a published video's checked thumbnail again (after the platform refused it)."""
        raise ConnectorError(f"{self.label} has no thumbnails to set.")


_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    _REGISTRY[cls.key] = cls
    return cls


def connector_class(key: str) -> type[Connector]:
    try:
        return _REGISTRY[key]
    except KeyError:
        raise ConnectorError(f"No connector called '{key}' is installed.") from None


def get(key: str) -> Connector:
    return connector_class(key)()


def for_channel(channel) -> Connector:
    """The connector a channel publishes through, holding that channel's account."""
    return connector_class(channel.connector).for_channel(channel)


def choices() -> list[tuple[str, str]]:
    return [(key, cls.label) for key, cls in sorted(_REGISTRY.items())]
