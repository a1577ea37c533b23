"""The local outbox: publishes into a folder of the data directory, as a platform would.

Each post is a folder holding `post.json` and its media. The id is derived from the draft
and its content hash, so publishing the same content twice returns the same post. Comments, as a
platform would report them, are read from `comments.json` in the post's folder (a list of objects
with `id`, `author`, `text` and `created_at`); a post taken down loses its folder.
"""

import json
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings

from connectors.base import Comment, Connector, ConnectorError, Journal, OutgoingPost, PublishResult, comment_time, register

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heic": ".heic", "video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}


@register
class OutboxConnector(Connector):
    key = "outbox"
    label = "Local outbox (nothing leaves this computer)"

    def __init__(self, root: Path | None = None):
        self.root = Path(root or settings.OUTBOX_DIR)

    def post_id(self, post: OutgoingPost) -> str:
        return f"outbox-{post.draft_id}-{post.content_hash[:16]}"

    def folder(self, post_id: str) -> Path:
        return self.root / post_id

    def publish(self, post: OutgoingPost, journal: Journal | None = None) -> PublishResult:
        post_id = self.post_id(post)
        target = self.folder(post_id)
        if (target / "post.json").is_file():
            return PublishResult(post_id, target.as_uri())
        staging = None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            # Write into a temporary folder and rename it into place, so a crash never leaves half a post.
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=self.root))
            media = []
            for index, item in enumerate(post.media):
                name = f"{index + 1:02d}{EXTENSIONS.get(item.content_type, '.bin')}"
                shutil.copyfile(item.path, staging / name)
                entry = {"file": name, "kind": item.kind, "content_type": item.content_type, "alt_text": item.alt_text}
                if item.thumbnail is not None:
                    entry["thumbnail"] = f"{index:02d}-thumbnail.jpg"
                    shutil.copyfile(item.thumbnail, staging / entry["thumbnail"])
                media.append(entry)
            record = {
                "id": post_id,
                "channel": post.channel_name,
                "platform": post.channel_kind,
                "account_id": post.account_id,
                "privacy": post.privacy if post.channel_kind == "youtube" else "",
                "title": post.title,
                "text": post.text,
                "link": post.link,
                "scheduled_for": post.publish_at.isoformat() if post.publish_at else None,
                "media": media,
                "content_hash": post.content_hash,
                "received_at": datetime.now(timezone.utc).isoformat(),
            }
            with open(staging / "post.json", "w", encoding="utf-8") as handle:
                json.dump(record, handle, indent=2, ensure_ascii=False)
                handle.flush()
                os.fsync(handle.fileno())
            # The post's files are the school's: owner and group may read them, nobody else.
            for written in staging.iterdir():
                written.chmod(0o640)
            staging.chmod(0o750)
            os.replace(staging, target)
        except OSError as error:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise ConnectorError(f"The outbox folder could not be written ({error.strerror or error}).") from error
        return PublishResult(post_id, target.as_uri())

    def delete(self, platform_post_id: str) -> None:
        target = self.folder(platform_post_id)
        if target.parent != self.root or not target.name.startswith("outbox-"):
            raise ConnectorError(f"'{platform_post_id}' is not a post of the outbox.")
        try:
            shutil.rmtree(target)
        except FileNotFoundError:
            pass  # already gone: the takedown is done
        except OSError as error:
            raise ConnectorError(f"The outbox folder could not be removed ({error.strerror or error}).") from error

    def comments(self, platform_post_id: str):
        path = self.folder(platform_post_id) / "comments.json"
        try:
            entries = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as error:
            raise ConnectorError(f"The comments of {platform_post_id} in the outbox could not be read: {error}") from error
        for entry in entries:
            created = entry.get("created_at")
            yield Comment(
                comment_id=str(entry["id"]), author=str(entry.get("author", "")), text=str(entry.get("text", "")),
                created_at=comment_time(created, datetime.fromisoformat), parent_id=str(entry.get("parent_id", "")),
            )
