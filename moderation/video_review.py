"""Face tracks in a draft's videos: finding them, and what people decide about each one.

The same decisions as for a face in a photo (who it is, blur it), recorded with the person's
name and part of the approved content.
"""

import io

from django.db import transaction
from django.utils import timezone

from moderation import face_review
from moderation.face_review import _audit, _check_may_decide
from moderation.models import MediaFile, MediaText, VideoTrack


# The words in a video (captions, a whiteboard, name badges) are read from one frame every this
# many seconds: words stay on screen for seconds, and reading a frame takes about a second.
VIDEO_READ_EVERY_SECONDS = 2.0


def read_every() -> float:
    from django.conf import settings

    return float(getattr(settings, "VIDEO_READ_EVERY_SECONDS", VIDEO_READ_EVERY_SECONDS))


def set_thumbnail(media: MediaFile, seconds: float, by) -> None:
    """The author chooses the frame the platform shows before the video plays."""
    from consent import video

    _check_may_decide(media.draft, by)
    length = video.inspect(media.path, media.original_name).seconds
    if not 0 <= seconds <= length:
        from django.core.exceptions import ValidationError

        raise ValidationError(f"Choose a time between 0 and {length:.1f} seconds.")
    with transaction.atomic():
        media.thumbnail_time = round(seconds, 2)
        media.save(update_fields=["thumbnail_time"])
        _audit(media, by, "video.thumbnail", f"The thumbnail of '{media.original_name}' is the frame at {seconds:.1f} s", time=seconds)


def find_tracks(media: MediaFile, progress=lambda fraction: None) -> None:
    """Analyse a video: every face track, matched against the register, stored with its best
    view; and the words shown in it, read every VIDEO_READ_EVERY_SECONDS.
    VideoRejected (a bad video) is recorded by the caller as a failed analysis."""
    from consent import faces, video
    from moderation import ocr

    every = read_every()
    lines, last_read = [], [None]

    def read(time, image):
        if last_read[0] is None or time - last_read[0] >= every - 1e-6:
            last_read[0] = time
            lines.extend((time, line) for line in ocr.read(image))

    register = faces.Register.load(media.draft.channel.kind)
    report = video.analyse(media.path, media.draft.channel.kind, register, name=media.original_name, progress=progress,
                           on_sample=read)
    rows = []
    for track in report.tracks:
        view = track.view
        buffer = io.BytesIO()
        view.crop.convert("RGB").save(buffer, "JPEG", quality=92)
        rows.append(VideoTrack(
            media=media, start=track.start, end=track.end, best_time=view.time,
            top=view.face.top, right=view.face.right, bottom=view.face.bottom, left=view.face.left,
            sightings=[[round(v.time, 3), *v.face.box] for v in track.views],
            view=buffer.getvalue(), view_box=list(view.crop_box),
            auto_status=track.match.status, auto_pupil=track.match.pupil, auto_distance=track.match.distance,
        ))
    with transaction.atomic():
        media.tracks.all().delete()
        VideoTrack.objects.bulk_create(rows)
        media.words.all().delete()
        MediaText.objects.bulk_create(
            MediaText(media=media, time=round(time, 3), top=t, right=r, bottom=b, left=l, text=line.text[:500], confidence=line.confidence)
            for time, line in lines
            for t, r, b, l in [line.box]
        )
        media.faces_found_at = media.words_read_at = timezone.now()
        media.detection_error = media.reading_error = ""
        media.save(update_fields=["faces_found_at", "detection_error", "words_read_at", "reading_error"])


def view_image(track: VideoTrack):
    from PIL import Image

    return Image.open(io.BytesIO(bytes(track.view))).convert("RGB")


# Who a face track is, and blurring it, are decided as for a face in a photo.
identify = face_review.identify
set_blur = face_review.set_blur


def thumbnail_preview(media: MediaFile):
    """The thumbnail as it would be published now: the chosen frame, with the chosen blurs."""
    from types import SimpleNamespace

    from moderation import video_copy

    item = SimpleNamespace(
        thumbnail_time=media.thumbnail_time, thumbnail_path=None, source_path=media.path,
        tracks=[SimpleNamespace(sightings=t.sightings, blur=t.blur) for t in media.tracks.all()],
        words=[SimpleNamespace(time=w.time, box=w.box, blur=w.blur) for w in media.words.all()],
    )
    return video_copy.thumbnail(item, read_every()), video_copy.thumbnail_time(item)

