"""Face tracks in a draft's videos: finding them, and what people decide about each one.

The same decisions as for a face in a photo (who it is, blur it), recorded with the person's
name and part of the approved content.
"""

import io

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from config.school import crypto
from consent import faces
from moderation.approval import face_review
from moderation.approval.face_review import _audit, _check_may_decide
from moderation.models import MediaFile, MediaText, VideoTrack, next_face_number
from moderation.publishing import video_copies
from moderation.publishing.video_copies import read_every
from pixels import imaging, ocr, video, video_copy


def set_thumbnail(media: MediaFile, seconds: float, by) -> None:
    """The author chooses the frame the platform shows before the video plays."""
    _check_may_decide(media.draft, by)
    length = video.inspect(media.path, media.original_name).seconds
    if not 0 <= seconds <= length:
        raise ValidationError(f"Choose a time between 0 and {length:.1f} seconds.")
    with transaction.atomic():
        media.thumbnail_time = round(seconds, 2)
        media.save(update_fields=["thumbnail_time"])
        _audit(media, by, "video.thumbnail", f"The thumbnail of {media.audit_label} is the frame at {seconds:.1f} s", time=seconds)


def find_tracks(media: MediaFile, progress=lambda fraction: None) -> None:
    """Analyse a video: every face track, matched against the register, stored with its best
    view; and the words shown in it, read every VIDEO_READ_EVERY_SECONDS.
    VideoRejected (a bad video) is recorded by the caller as a failed analysis."""
    every = read_every()
    lines, last_read = [], [None]

    def read(time, picture):
        if last_read[0] is None or time - last_read[0] >= every - 1e-6:
            last_read[0] = time
            lines.extend((time, line) for line in ocr.read(picture()))

    register = faces.Register.load(media.draft.channel.kind)
    report = video.analyse(media.path, register, name=media.original_name, progress=progress,
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
            view=crypto.encrypt_picture(buffer.getvalue()), view_box=list(view.crop_box),
            auto_status=track.match.status, auto_pupil=track.match.pupil, auto_distance=track.match.distance,
        ))
    # Numbered in the order they appear, for life (see MediaFace.number).
    for number, row in enumerate(sorted(rows, key=lambda r: (r.start, r.left)), start=1):
        row.number = number
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
    video_copies.request(media)


def view_image(track: VideoTrack):
    from PIL import Image

    return Image.open(io.BytesIO(crypto.decrypt_picture(track.view))).convert("RGB")


# Who a face track is, and blurring it, are decided as for a face in a photo.
identify = face_review.identify
set_blur = face_review.set_blur


def mark_track(media: MediaFile, seconds: float, box, by) -> VideoTrack:
    """A person marks, on the frame at `seconds`, a face the engine missed. It is followed through
    the frames around it and then counts like any other track: blurred, or identified."""
    _check_may_decide(media.draft, by)
    length = video.inspect(media.path, media.original_name).seconds
    if not 0 <= seconds <= length:
        raise ValidationError(f"Choose a time between 0 and {length:.1f} seconds.")
    top, right, bottom, left = face_review.marked_box(media, box)
    sightings = video.follow(media.path, seconds, (top, right, bottom, left), media.original_name)
    marked = min(sightings, key=lambda s: abs(s[0] - seconds))
    frame = video_copy.frame_at(media.path, marked[0])
    margin = max(right - left, bottom - top)
    crop_box = (max(0, left - margin), max(0, top - margin), min(frame.width, right + margin), min(frame.height, bottom + margin))
    buffer = io.BytesIO()
    frame.crop(crop_box).save(buffer, "JPEG", quality=92)
    with transaction.atomic():
        track = VideoTrack.objects.create(
            media=media, start=sightings[0][0], end=sightings[-1][0], best_time=marked[0],
            top=top, right=right, bottom=bottom, left=left, sightings=sightings, view=crypto.encrypt_picture(buffer.getvalue()),
            view_box=[top - crop_box[1], right - crop_box[0], bottom - crop_box[1], left - crop_box[0]],
            source=VideoTrack.Source.MARKED, marked_by=by,
            number=next_face_number(VideoTrack.objects.select_for_update().filter(media=media)),
        )
        _audit(media, by, "tracks.marked",
               f"A face the engine missed was marked at {seconds:.1f} s in {media.audit_label} and followed from "
               f"{track.start:.1f} to {track.end:.1f} s", track=track.pk, box=[top, right, bottom, left], time=round(seconds, 3))
    video_copies.request(media)
    return track


def unmark_track(track: VideoTrack, by) -> None:
    if track.source != VideoTrack.Source.MARKED:
        raise ValidationError("Only a face marked by a person can be removed.")
    _check_may_decide(track.media.draft, by)
    media = track.media
    with transaction.atomic():
        _audit(track, by, "tracks.unmarked", f"Marked face {track.number} removed from {media.audit_label}", track=track.pk)
        track.delete()
    video_copies.request(media)


# The approver's filmstrip: a frame of the published copy every this many seconds, a minute a page.
FILMSTRIP_EVERY_SECONDS = 0.5
FILMSTRIP_PAGE_SECONDS = 60


def filmstrip_times(media: MediaFile, start: float = 0.0) -> list[float]:
    return video_copy.every_frame_time(media.path, FILMSTRIP_EVERY_SECONDS, start, start + FILMSTRIP_PAGE_SECONDS)


def published_frame(media: MediaFile, seconds: float):
    """The frame at `seconds` as it will be published: (picture, made) where made says whether it
    is from the published copy itself (True) or, while that is being made, the upload with the
    decided blurs applied the same way (False)."""
    made = video_copies.current(media)
    if made is not None:
        return video_copy.frame_at(made, seconds), True
    image = video_copy.frame_at(media.path, seconds)
    for sightings in video_copies.blur_list(media.tracks.all(), media.words.all()):
        box = video_copy.box_at(sightings, seconds)
        if box is not None:
            imaging.pixelate(image, box)
    return image, False


def tracks_at(media: MediaFile, seconds: float) -> list[tuple[int, VideoTrack, tuple]]:
    """(number, track, box) of every track on screen at `seconds`."""
    out = []
    for track in media.tracks.all():
        number = track.number
        # Where the face was seen (the blur itself reaches a little before and after: a face
        # is boxed only on frames it is on).
        box = video_copy.box_at([list(s) for s in track.sightings], seconds, margin=0.09)
        if box is not None:
            out.append((number, track, box))
    return out


def thumbnail_preview(media: MediaFile):
    """The thumbnail as it would be published now: the chosen frame, with the chosen blurs."""
    from types import SimpleNamespace

    item = SimpleNamespace(
        thumbnail_time=media.thumbnail_time, thumbnail_path=None, source_path=media.path,
        tracks=[SimpleNamespace(sightings=t.sightings, blur=t.blur) for t in media.tracks.all()],
        words=[SimpleNamespace(time=w.time, box=w.box, blur=w.blur) for w in media.words.all()],
    )
    return video_copy.thumbnail(item, read_every()), video_copy.thumbnail_time(item)

