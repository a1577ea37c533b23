import tempfile
from pathlib import Path

from moderation.gates.base import UNAVAILABLE, Gate, Outcome, failed, passed
from moderation.gates.not_yet_available import videos_waiting


class NoLocationMetadata(Gate):
    """Section 4.1: location sharing; data protection.

    The published copy of every image carries no EXIF, XMP or IPTC metadata (no GPS, no
    device serials): the pipeline derives it without them and verifies the bytes themselves.
    """

    id = "no-location-metadata"
    title = "No location metadata"

    def check(self, ctx):
        from consent import faces as engine
        from moderation import imaging

        media = ctx.content.media
        if not media:
            return passed("Nothing to check: this draft has no photos or videos.")
        problems, removed = [], []
        with tempfile.TemporaryDirectory(prefix="published-preview-") as scratch:
            for item in media:
                if item.kind != "image":
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
        waiting = videos_waiting(ctx.content, "metadata in videos")
        if problems:
            return failed("Not published: " + "; ".join(problems) + ".")
        if waiting:
            return Outcome(UNAVAILABLE, waiting)
        if removed:
            return passed("Removed from the published copies: " + "; ".join(removed) + ". Verified in the published bytes.")
        return passed("The published copies carry no EXIF, XMP or GPS: verified in the published bytes.")


gate = NoLocationMetadata()
