import tempfile
from pathlib import Path

from moderation.gates.base import Gate, failed, passed
from moderation.models import MediaFile
from moderation.publishing import video_copies
from pixels import hidden_data, imaging, video, video_copy
from pixels import photos as engine


class NoLocationMetadata(Gate):
    """Section 4.1: location sharing; personal information is not shared; data protection.

    No hidden data: the published copy of every photo and video carries its picture and sound
    and nothing else (no EXIF, GPS, XMP, IPTC, comment, colour profile, text chunk, container
    tag, chapter, subtitle or data stream, or SEI text in the picture stream). The pipeline makes
    the copies from pixels alone and verifies them by reading every segment, box and unit of the
    published bytes (`pixels.hidden_data`). The id stays `no-location-metadata`, as stored in
    earlier results.
    """

    id = "no-location-metadata"
    title = "No hidden data"

    def check(self, ctx):
        media = ctx.content.media
        if not media:
            return passed("Nothing to check: this draft has no photos or videos.")
        problems, removed = [], []
        with tempfile.TemporaryDirectory(prefix="published-preview-") as scratch:
            for item in media:
                for what, published in self._published_files(item, Path(scratch)):
                    left = hidden_data.findings(published)
                    if left:
                        problems.append(f"{what} of {item.original_name} still carries {', '.join(left)}")
                carried = _carried(item)
                if carried:
                    removed.append(f"{item.original_name} ({', '.join(carried)})")
        if problems:
            return failed("Not published, hidden data: " + "; ".join(problems) + ".")
        verified = "verified in every segment of the published bytes"
        if removed:
            return passed(f"No hidden data: the published copies carry their pictures and sound only ({verified}). "
                          "Left out of them: " + "; ".join(removed) + ".")
        return passed(f"No hidden data: the published copies carry their pictures and sound only ({verified}).")

    def _published_files(self, item, scratch: Path):
        """(what, path) of each file that goes out for this item: the copies themselves at
        publishing; before, the copies as the product would make them now."""
        if item.kind == "video":
            yield "the published copy", self._video_copy(item, scratch)
            thumbnail = item.thumbnail_path or imaging.write_published_copy(
                video_copy.thumbnail(item, video_copies.read_every()), [], scratch / f"{item.position}-thumbnail.jpg"
            )
            yield "the thumbnail", thumbnail
            return
        published = item.path
        if published == item.source_path:
            published = imaging.write_published_copy(
                engine.load_image(item.source_path), [f.box for f in item.faces if f.blur],
                scratch / f"{item.position}.jpg",
            )
        yield "the published copy", published

    def _video_copy(self, item, scratch: Path) -> Path:
        if item.path != item.source_path:
            return item.path
        # Before publishing: the copy the worker made for the approver when there is one, else
        # the same writer's container around the same picture (blurring changes pixels, not tags).
        media = MediaFile.objects.filter(pk=item.media_id).first() if item.media_id else None
        made = video_copies.current(media) if media is not None else None
        return made or video_copy.remux(item.source_path, scratch / f"{item.position}.mp4")


def _carried(item) -> list[str]:
    """What the upload carried that its published copy leaves out, in words an office knows."""
    if item.kind == "video":
        return video.metadata_names(item.source_path)
    return engine.metadata_names(item.source_path) + engine.other_carried(item.source_path)


gate = NoLocationMetadata()
