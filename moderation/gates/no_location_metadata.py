import tempfile
from pathlib import Path

from moderation.gates.base import Gate, failed, passed
from pixels import imaging, video, video_copy
from pixels import photos as engine


class NoLocationMetadata(Gate):
    """Section 4.1: location sharing; data protection.

    The published copy of every photo carries no EXIF, XMP or IPTC metadata (no GPS, no device
    serials), and of every video no location, device or software tags: the pipeline derives the
    copies without them and verifies the bytes themselves.
    """

    id = "no-location-metadata"
    title = "No location metadata"

    def check(self, ctx):
        media = ctx.content.media
        if not media:
            return passed("Nothing to check: this draft has no photos or videos.")
        problems, removed = [], []
        with tempfile.TemporaryDirectory(prefix="published-preview-") as scratch:
            for item in media:
                if item.kind == "video":
                    self._check_video(item, Path(scratch), problems, removed)
                    continue
                published = item.path
                if published == item.source_path:
                    # Before publishing, verify the copy that would be made, not an intent.
                    published = imaging.write_published_copy(
                        engine.load_image(item.source_path), [f.box for f in item.faces if f.blur],
                        Path(scratch) / f"{item.position}.jpg",
                    )
                left = engine.metadata_names(published)
                if left:
                    problems.append(f"the published copy of {item.original_name} still carries {', '.join(left)}")
                carried = engine.metadata_names(item.source_path)
                if carried:
                    removed.append(f"{item.original_name} ({', '.join(carried)})")
        if problems:
            return failed("Not published: " + "; ".join(problems) + ".")
        if removed:
            return passed("Removed from the published copies: " + "; ".join(removed) + ". Verified in the published bytes.")
        return passed("The published copies carry no EXIF, XMP or GPS: verified in the published bytes.")


    def _check_video(self, item, scratch, problems, removed):
        published = item.path
        if published == item.source_path:
            # Before publishing: the container the published copy is written with, without
            # re-encoding the picture (which changes the pixels, not the metadata).
            published = video_copy.remux(item.source_path, scratch / f"{item.position}.mp4")
        left = video.metadata_names(published)
        if left:
            problems.append(f"the published copy of {item.original_name} still carries {', '.join(left)}")
        from moderation.video_review import read_every

        thumbnail = item.thumbnail_path or imaging.write_published_copy(
            video_copy.thumbnail(item, read_every()), [], scratch / f"{item.position}-thumbnail.jpg"
        )
        left = engine.metadata_names(thumbnail)
        if left:
            problems.append(f"the thumbnail of {item.original_name} still carries {', '.join(left)}")
        carried = video.metadata_names(item.source_path)
        if carried:
            removed.append(f"{item.original_name} ({', '.join(carried)})")


gate = NoLocationMetadata()
