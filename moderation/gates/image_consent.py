from django.utils import timezone

from consent import faces as engine
from consent.models import PhotoConsent, Pupil
from moderation.approval import video_review
from moderation.gates.base import Gate, failed, passed, waiting
from moderation.models import MediaFace, MediaFile, VideoTrack
from moderation.publishing import video_copies
from moderation.publishing.video_copies import read_every
from pixels import detection, imaging, photos, second_opinion, video, video_copy

# What a face may end as for the gate to pass.
ACCEPTED = {"consented", "confirmed", "blurred"}
# What the reviewing colleague can settle by saying who it is (or blurring it).
FOR_THE_REVIEWER = {"uncertain", "unknown"}


def face_status(face, match, channel_kind, on=None):
    """One face's final status, and why, from the people's decisions and the automatic match.

    face: a FaceItem; match: the automatic result for it (None when a person decided).
    """

    if face.blur:
        return "blurred", "blurred in the published copy"
    if face.identified_pupil_id:
        pupil = Pupil.objects.get(pk=face.identified_pupil_id)
        consent = PhotoConsent.objects.filter(pupil=pupil, channel_kind=channel_kind).select_related("pupil").first()
        if consent and consent.is_current(on or timezone.localdate()):
            return "confirmed", f"{pupil} (identified by {face.identified_by}), with written consent"
        return "no-consent", f"{pupil} (identified by {face.identified_by}) has no current written consent for {channel_kind.title()}"
    if match is None:
        return "unknown", "not identified"
    who = str(match.pupil) if match.pupil else "nobody on the register"
    return {
        "consented": ("consented", f"{who}, with written consent"),
        "uncertain": ("uncertain", f"perhaps {who}: a person must confirm who it is"),
        "no-consent": ("no-consent", f"{who} has no current written consent for {channel_kind.title()}"),
    }.get(match.status, ("unknown", "not on the register, or not enrolled: identify them by hand or blur the face"))


class ImageConsent(Gate):
    """Section 5: "written parental consent will be obtained as required"; the image use policy; 4.1: photos of children are not shared.

    Every face in every photo, and every face track of every video, is identified as a person
    with current written consent for this channel; an unknown face, or a face without consent,
    fails the gate unless that face is blurred in the published copy.
    """

    id = "image-consent"
    title = "Image consent"
    reviewed_by_person = True

    def check(self, ctx):
        media = ctx.content.media
        if not media:
            return passed("Nothing to check: this draft has no photos or videos.")
        problems, to_identify, summary, register, checked_again = [], [], [], None, []
        for item in media:
            # A photo or video whose faces were not looked for fails closed, saying why.
            if item.faces_not_checkable:
                problems.append(item.faces_not_checkable)
                continue
            if item.kind == "video":
                if register is None:
                    register = engine.Register.load(ctx.content.channel_kind, on=ctx.now.date())
                self._check_tracks(item, ctx, register, problems, to_identify, summary, checked_again)
                continue
            known_boxes = []
            undecided = [f for f in item.faces if not f.blur and not f.identified_pupil_id]
            matches = {}
            if undecided:
                if register is None:  # decrypted once per check, and only when needed
                    register = engine.Register.load(ctx.content.channel_kind, on=ctx.now.date())
                image = photos.load_image(item.source_path)
                found = engine.match(image, [f.box for f in undecided], ctx.content.channel_kind, register)
                matches = {face.id: match for face, match in zip(undecided, found)}
            for index, face in enumerate(item.faces, start=1):
                number = face.number or index  # the face's own number, as the page shows it
                match = matches.get(face.id)
                status, why = face_status(face, match, ctx.content.channel_kind, ctx.now.date())
                if match is not None:  # kept for the approver's view of the photo
                    MediaFace.objects.filter(pk=face.id).update(
                        auto_status=match.status, auto_pupil=match.pupil, auto_distance=match.distance
                    )
                if status in FOR_THE_REVIEWER:
                    to_identify.append(f"{item.original_name}, face {number}: {why}")
                elif status not in ACCEPTED:
                    problems.append(f"{item.original_name}, face {number}: {why}")
                # What the second detector may see: each face (judged above); where a face is
                # pixelated, the blocks (they can still look like a face to a detector).
                known_boxes.append(imaging.widen(face.box, ANY_SIZE) if status == "blurred" else face.box)
            summary.append(f"{item.original_name}: {len(item.faces)} face(s)")
            if _is_published_copy(item):
                seen = second_opinion.photo(item.path)
                self._second_opinion(item, seen, lambda time: known_boxes, problems)
                checked_again.append(item.original_name)
        if problems:
            return failed(
                "; ".join(problems + to_identify) + ". Blur each face without consent."
                + (" The reviewing colleague can say who the others are." if to_identify else "")
            )
        if to_identify:
            return waiting(
                "; ".join(to_identify) + ". The reviewing colleague must say who each of these is (the consent register "
                "then decides), or blur the face."
            )
        again = (
            f" A second face detector found no other face in the published cop{'y' if len(checked_again) == 1 else 'ies'} of "
            + ", ".join(checked_again) + "." if checked_again else
            " The published copies are searched again by a second face detector when they are made."
        )
        return passed("Every face has written consent for this channel or is blurred (" + "; ".join(summary) + ")." + again)

    def _second_opinion(self, item, sightings, known_at, problems):
        """Every face the second detector sees in the published copy must be one of the faces
        judged above (each passes only with consent, or blurred): a face it sees where there is
        none holds the draft until someone marks it."""
        for sighting in sightings:
            if second_opinion.covered(sighting.face.box, known_at(sighting.time)):
                continue
            top, right, bottom, left = sighting.face.box
            when = f" at {_span(sighting.time, sighting.time).split(' to ')[0]}" if sighting.time is not None else ""
            problems.append(
                f"{item.original_name}: a second face detector sees a face{when} in the published copy "
                f"({right - left}×{bottom - top} px, {left} px from the left and {top} px from the top) that is not "
                "one of the faces above. Mark it as a face (on the photo, or on that frame of the video) so that it is blurred or identified"
            )

    def _check_tracks(self, item, ctx, register, problems, to_identify, summary, checked_again):
        """Each face track of a video, as each face of a photo: its best view matched again now."""
        rows = {t.pk: t for t in VideoTrack.objects.filter(media_id=item.media_id)}
        known = []  # each track's sightings, and whether it is blurred
        for index, track in enumerate(item.tracks, start=1):
            where = f"{item.original_name}, face {track.number or index} ({_span(track.start, track.end)})"
            match = None
            if not track.blur and not track.identified_pupil_id:
                row = rows[track.id]
                match = video.identify_view(video_review.view_image(row), row.view_box, row.right - row.left, register)
                VideoTrack.objects.filter(pk=row.pk).update(auto_status=match.status, auto_pupil=match.pupil, auto_distance=match.distance)
            status, why = face_status(track, match, ctx.content.channel_kind, ctx.now.date())
            if status in FOR_THE_REVIEWER:
                to_identify.append(f"{where}: {why}")
            elif status not in ACCEPTED:
                problems.append(f"{where}: {why}")
            known.append(([list(s) for s in track.sightings], status == "blurred"))
        summary.append(f"{item.original_name}: {len(item.tracks)} face track(s)")
        self._check_thumbnail(item, problems)

        def known_at(time):
            boxes = [(video_copy.box_at(sightings, time), blurred) for sightings, blurred in known]
            return [imaging.widen(box, ANY_SIZE) if blurred else box for box, blurred in boxes if box is not None]

        if not _is_published_copy(item):
            # Before publishing: what the second detector saw in the copy the worker made for
            # these decisions, when it has been made (it is looked at again when published).
            seen = video_copies.findings(MediaFile.objects.get(pk=item.media_id))
            if seen is not None:
                self._second_opinion(item, seen, known_at, problems)
                checked_again.append(item.original_name)
            return
        self._second_opinion(item, second_opinion.published_video(item.path), known_at, problems)
        if item.thumbnail_path is not None:
            when = video_copy.thumbnail_time(item)
            self._second_opinion(item, [second_opinion.Sighting(when, s.face) for s in second_opinion.photo(item.thumbnail_path)],
                                 known_at, problems)
        checked_again.append(item.original_name)

    def _check_thumbnail(self, item, problems):
        """The thumbnail is a photo the platform shows: every face in it must be one of the
        video's tracks (each judged above), or blurred."""
        when = video_copy.thumbnail_time(item)
        for face in detection.detect_faces(video_copy.thumbnail(item, read_every())):
            followed = any(
                _overlaps(video_copy.box_at([list(s) for s in track.sightings], when), face.box) for track in item.tracks
            )
            if not followed:
                problems.append(
                    f"{item.original_name}: its thumbnail (the frame at {_span(when, when).split(' to ')[0]}) shows a face that was "
                    "not followed in the video; mark that face on the frame (it is then blurred or identified like the others), or choose "
                    "another frame for the thumbnail"
                )


# widen() clips boxes to a picture's size; here they are only compared, so no clipping.
ANY_SIZE = (10**9, 10**9)


def _is_published_copy(item) -> bool:
    """Whether the item's path is the copy derived for publishing (not the upload itself)."""
    return item.path != item.source_path


def _overlaps(a, b) -> bool:
    if a is None:
        return False
    top, right = max(a[0], b[0]), min(a[1], b[1])
    bottom, left = min(a[2], b[2]), max(a[3], b[3])
    if right <= left or bottom <= top:
        return False
    inter = (right - left) * (bottom - top)
    smaller = min((a[1] - a[3]) * (a[2] - a[0]), (b[1] - b[3]) * (b[2] - b[0]))
    return inter >= 0.3 * smaller


def _span(start: float, end: float) -> str:
    return f"{int(start // 60)}:{start % 60:04.1f} to {int(end // 60)}:{end % 60:04.1f}"


gate = ImageConsent()
