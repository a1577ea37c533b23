"""Faces in a draft's photos: finding them, and what people decide about each one.

A person's decision (who a face is, or that it is blurred) is recorded with their name and
is part of the approved content: it is in the content hash, so changing it voids an approval.
"""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from config.school.models import AuditEntry
from consent import faces as register_faces
from moderation.models import (
    Draft,
    MediaFace,
    MediaFile,
    MediaText,
    VideoTrack,
    next_face_number,
)
from moderation.publishing import video_copies
from moderation.upkeep import stopping
from pixels import detection, imaging, ocr, photos, second_opinion

logger = logging.getLogger(__name__)

# Who may decide what, and when: the author fixes their draft while it is theirs; the
# approver reviews it while it waits for approval.
REVIEWABLE = {Draft.Status.DRAFT, Draft.Status.RETURNED, Draft.Status.AWAITING_APPROVAL}


def find_faces(media: MediaFile, progress=lambda fraction: None) -> None:
    """Detect the faces in a photo and store their boxes, match them, and read the photo's words.
    A failure is recorded, never hidden. progress(fraction) is told how far it has gone."""
    if media.kind != MediaFile.Kind.IMAGE:
        return
    path = media.path  # a file storage out of reach is not the photo's fault: the analysis is tried again
    try:
        image = photos.load_image(path)
        progress(0.05)
        found = detection.detect_faces(image)
        progress(0.5)
        extra = second_opinion.extra_faces(image, found)
    except Exception as error:  # the gate fails closed on a photo whose faces were not found
        media.detection_error = f"The faces in this photo could not be found: {error}"[:300]
        media.faces_found_at = None
        # (an update, not a save: a file removed from its draft meanwhile has no row to save)
        MediaFile.objects.filter(pk=media.pk).update(detection_error=media.detection_error, faces_found_at=None)
        if not MediaFile.objects.filter(pk=media.pk).exists():
            raise stopping.Gone(f"media {media.pk} was removed")
        return
    with transaction.atomic():
        media.faces.filter(source__in=[MediaFace.Source.DETECTED, MediaFace.Source.SECOND]).delete()
        first = next_face_number(media.faces.all())
        # Numbered left to right as found, after any face a person marked.
        boxes = sorted(((f, source) for faces, source in ((found, MediaFace.Source.DETECTED), (extra, MediaFace.Source.SECOND))
                        for f in faces), key=lambda pair: (pair[0].left, pair[0].top))
        MediaFace.objects.bulk_create(
            MediaFace(media=media, top=f.top, right=f.right, bottom=f.bottom, left=f.left, source=source, number=first + index)
            for index, (f, source) in enumerate(boxes)
        )
        media.detection_error = ""
        media.faces_found_at = timezone.now()
        media.save(update_fields=["detection_error", "faces_found_at"])
    progress(0.75)
    match_faces(media, image)
    progress(0.8)
    read_words(media, image)


def published_preview(media: MediaFile):
    """The photo exactly as it would be published now: every face and every line of words chosen
    for blurring pixelated (what the approver approves)."""
    image = photos.load_image(media.path)
    blurred = [f.box for f in media.faces.filter(blur=True)] + [w.box for w in media.words.filter(blur=True)]
    return imaging.published_pixels(image, blurred)


def read_words(media: MediaFile, image=None) -> None:
    """Read the words inside a photo and store each line with its box. A failure is recorded:
    the no-personal-data gate fails closed on a photo whose words were not read."""
    if media.kind != MediaFile.Kind.IMAGE:
        return
    try:
        image = image if image is not None else photos.load_image(media.path)
        lines = ocr.read(image)
    except Exception as error:
        media.reading_error = f"The words in this photo could not be read: {error}"[:300]
        media.words_read_at = None
        media.save(update_fields=["reading_error", "words_read_at"])
        return
    with transaction.atomic():
        media.words.all().delete()
        MediaText.objects.bulk_create(
            MediaText(media=media, top=t, right=r, bottom=b, left=l, text=line.text[:500], confidence=line.confidence)
            for line in lines
            for t, r, b, l in [line.box]
        )
        media.reading_error = ""
        media.words_read_at = timezone.now()
        media.save(update_fields=["reading_error", "words_read_at"])


def set_words_blur(words: MediaText, blur: bool, by) -> None:
    """Blur (or stop blurring) a line of words in the published copy."""
    _check_may_decide(words.media.draft, by)
    with transaction.atomic():
        words.blur = blur
        words.blur_by = by if blur else None
        words.save(update_fields=["blur", "blur_by"])
        _audit(
            words.media, by, "words.blurred" if blur else "words.unblurred",
            # The words themselves stay with the row (erasure reaches them there), not in the trail.
            f"Words {words.pk} in {words.media.audit_label} {'to be blurred' if blur else 'no longer blurred'} in the published copy",
            words=words.pk,
        )
    video_copies.request(words.media)


def match_faces(media: MediaFile, image=None, faces=None) -> None:
    """Match faces against the register as it is now, so that the author sees at once who is
    who. Only a preview: the gate matches again at every check, and fails closed on its own."""
    faces = list(faces if faces is not None else media.faces.all())
    if not faces:
        return
    try:
        image = image if image is not None else photos.load_image(media.path)
        register = register_faces.Register.load(media.draft.channel.kind)
        found = register_faces.match(image, [f.box for f in faces], media.draft.channel.kind, register)
    except Exception:  # the page then says the faces are not checked yet; the gate says why
        logger.warning("Faces in media %s could not be matched for the preview", media.pk, exc_info=True)
        return
    for face, result in zip(faces, found):
        MediaFace.objects.filter(pk=face.pk).update(
            auto_status=result.status, auto_pupil=result.pupil, auto_distance=result.distance
        )


def _check_may_decide(draft: Draft, user, *, approver_only=False):
    if draft.status not in REVIEWABLE:
        raise ValidationError(
            f"This draft is {draft.get_status_display().lower()}: faces can be changed only before it is approved."
        )
    is_author = user.pk == draft.author_id
    is_reviewer = not is_author and user.has_perm("moderation.approve_draft") and draft.status == Draft.Status.AWAITING_APPROVAL
    if approver_only and not is_reviewer:
        raise PermissionDenied("Only a colleague reviewing the draft can confirm who a face is.")
    if not (is_reviewer or (is_author and draft.status in Draft.EDITABLE)):
        raise PermissionDenied("Only the author (before submitting) or the reviewing colleague can change this.")


def _audit(face_or_media, by, action, summary, **data):
    media = face_or_media if isinstance(face_or_media, MediaFile) else face_or_media.media
    AuditEntry.objects.create(
        actor=by, action=action, draft=media.draft, channel_id=media.draft.channel_id, summary=summary,
        data={"media": media.pk, **data},
    )


def _named(face) -> tuple[str, str, dict]:
    """How the audit names a face of a photo or a face track of a video: (action prefix, words, data)."""
    if isinstance(face, VideoTrack):
        return "tracks", f"Face {face.number} in {face.media.audit_label} ({face.start:.1f}-{face.end:.1f} s)", {"track": face.pk}
    return "faces", f"Face {face.number} in {face.media.audit_label}", {"face": face.pk}


def identify(face: MediaFace | VideoTrack, pupil, by) -> None:
    """A reviewing colleague confirms or corrects who a face (or a video's face track) is;
    pupil None clears it."""
    _check_may_decide(face.media.draft, by, approver_only=True)
    prefix, named, data = _named(face)
    with transaction.atomic():
        face.identified_pupil = pupil
        face.identified_by = by if pupil else None
        face.identified_at = timezone.now() if pupil else None
        face.save(update_fields=["identified_pupil", "identified_by", "identified_at"])
        _audit(face, by, f"{prefix}.identified", f"{named} identified by hand" if pupil else f"{named}: identification cleared",
               pupil=pupil.pk if pupil else None, **data)


def set_blur(face: MediaFace | VideoTrack, blur: bool, by) -> None:
    """The author or the reviewer chooses to blur a face (or a face track) in the published copy."""
    _check_may_decide(face.media.draft, by)
    prefix, named, data = _named(face)
    with transaction.atomic():
        face.blur = blur
        face.blur_by = by if blur else None
        face.save(update_fields=["blur", "blur_by"])
        _audit(face, by, f"{prefix}.blurred" if blur else f"{prefix}.unblurred",
               f"{named} {'to be blurred' if blur else 'no longer blurred'} in the published copy", **data)
    video_copies.request(face.media)


def mark(media: MediaFile, box, by) -> MediaFace:
    """A person marks a face that detection missed. It then counts like any other face."""
    _check_may_decide(media.draft, by)
    top, right, bottom, left = marked_box(media, box)
    with transaction.atomic():
        face = MediaFace.objects.create(
            media=media, top=top, right=right, bottom=bottom, left=left, source=MediaFace.Source.MARKED, marked_by=by,
            number=next_face_number(MediaFace.objects.select_for_update().filter(media=media)),
        )
        _audit(media, by, "faces.marked", f"Face {face.number}, which detection missed, was marked in {media.audit_label}", face=face.pk,
               box=[top, right, bottom, left])
    match_faces(media, faces=[face])
    return face


def marked_box(media: MediaFile, box) -> tuple[int, int, int, int]:
    """A box a person drew (top, right, bottom, left), within the picture; too small a box is refused."""
    top, right, bottom, left = (int(v) for v in box)
    if media.width and media.height:
        top, bottom = max(0, top), min(media.height, bottom)
        left, right = max(0, left), min(media.width, right)
    if bottom - top < 4 or right - left < 4:
        raise ValidationError("Draw a box around the face: it is too small.")
    return top, right, bottom, left


def unmark(face: MediaFace, by) -> None:
    if face.source != MediaFace.Source.MARKED:
        raise ValidationError("Only a face marked by a person can be removed.")
    _check_may_decide(face.media.draft, by)
    with transaction.atomic():
        _audit(face, by, "faces.unmarked", f"Marked face {face.number} removed from {face.media.audit_label}", face=face.pk)
        face.delete()
