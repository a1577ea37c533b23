"""What every connector shares. One platform, one package beside this file."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


class ConnectorError(Exception):
    """The platform refused the post or could not be reached. The message says which, for people."""


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


@dataclass(frozen=True)
class PublishResult:
    platform_post_id: str
    url: str = ""


class Connector:
    key = ""
    label = ""

    def publish(self, post: OutgoingPost) -> PublishResult:  # pragma: no cover - every connector overrides it
        raise NotImplementedError


_REGISTRY: dict[str, type[Connector]] = {}


def register(cls: type[Connector]) -> type[Connector]:
    _REGISTRY[cls.key] = cls
    return cls


def get(key: str) -> Connector:
    # Import the packages so that they register themselves.
    from connectors import outbox  # noqa: F401

    try:
        return _REGISTRY[key]()
    except KeyError:
        raise ConnectorError(f"No connector called '{key}' is installed.") from None


def choices() -> list[tuple[str, str]]:
    from connectors import outbox  # noqa: F401

    return [(key, cls.label) for key, cls in sorted(_REGISTRY.items())]
