"""Pages for the approver: the queue, faces, tracks and words to decide, the video's frames, approve
or send back.
"""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.school import crypto
from config.school.people import display_name
from consent.models import Pupil
from moderation.approval import face_review, language_review, video_review
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.approval.forms import ApprovalForm, SendBackForm
from moderation.gates import pipeline
from moderation.gates.image_consent import face_status
from moderation.models import (
    Draft,
    MediaFace,
    MediaText,
    VideoTrack,
)
from moderation.publishing import video_copies
from moderation.text import personal_data
from moderation.views import act, authors_draft, page_of, visible_draft


def _deciding(request, draft, decide, gates=pipeline.FACE_DECISION_GATES):
    """A decision about a face or words, then the checks it touches, run again at once."""
    def decide_and_recheck():
        decide()
        pipeline.recheck_after_decision(draft, request.user, gates)

    return decide_and_recheck


FACE_LABELS = {
    "consented": "Consented", "confirmed": "Confirmed, consented", "uncertain": "Uncertain",
    "no-consent": "No consent", "unknown": "Unknown", "blurred": "Blurred",
}


def face_rows(draft, media):
    """Each face with its status as the checks would see it now, for the page."""
    from types import SimpleNamespace

    rows = []
    for face in media.faces.select_related("marked_by", "identified_by", "auto_pupil"):
        item = SimpleNamespace(
            blur=face.blur, identified_pupil_id=face.identified_pupil_id,
            identified_by=display_name(face.identified_by) if face.identified_by_id else "",
        )
        match = SimpleNamespace(status=face.auto_status, pupil=face.auto_pupil, distance=face.auto_distance) if face.auto_status else None
        status, why = face_status(item, match, draft.channel.kind)
        if match is None and status == "unknown":
            why = "not yet checked against the register: the checks will match it when the draft is submitted"
        rows.append({"face": face, "status": status, "label": FACE_LABELS[status], "why": why,
                     "width": face.right - face.left, "height": face.bottom - face.top})
    return rows


def track_rows(draft, media):
    """Each face track of a video with its status as the checks last saw it."""
    from types import SimpleNamespace

    rows = []
    for track in media.tracks.select_related("identified_by", "auto_pupil"):
        item = SimpleNamespace(blur=track.blur, identified_pupil_id=track.identified_pupil_id,
                               identified_by=display_name(track.identified_by) if track.identified_by_id else "")
        match = SimpleNamespace(status=track.auto_status, pupil=track.auto_pupil, distance=track.auto_distance) if track.auto_status else None
        status, why = face_status(item, match, draft.channel.kind)
        rows.append({"track": track, "status": status, "label": FACE_LABELS[status], "why": why,
                     "span": f"{int(track.start // 60)}:{track.start % 60:04.1f}–{int(track.end // 60)}:{track.end % 60:04.1f}",
                     "best": f"{int(track.best_time // 60)}:{track.best_time % 60:04.1f}"})
    return rows


def word_rows(media, names):
    """Each line of words read in the photo, with the personal data in it."""
    allowed = media.draft.school.own_address_parts
    return [
        {"words": w, "findings": personal_data.find(w.text, "picture", names, allowed),
         "when": None if w.time is None else f"{int(w.time // 60)}:{w.time % 60:04.1f}"}
        for w in media.words.all()
    ]


def pupils_for_identification():
    return Pupil.objects.filter(on_roll=True).order_by("year_group", "legal_surname", "legal_forename")


def media_preview(request, pk, media_id):
    """The photo as it would be published now (orientation applied, the chosen faces and words
    pixelated), as a JPEG any browser can display."""
    import io

    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="image")
    try:
        image = face_review.published_preview(media)
    except Exception:
        raise Http404("The photo cannot be shown.")
    image.thumbnail((1600, 1600))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return HttpResponse(buffer.getvalue(), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


# A face in a photo and a face followed through a video are decided in the same way.
DECIDED = {"face": MediaFace, "track": VideoTrack}


def _decided(draft, kind, item_id):
    return get_object_or_404(DECIDED[kind].objects.select_related("media__draft"), pk=item_id, media__draft=draft)


def _face(draft, face_id):
    return _decided(draft, "face", face_id)


def _track(draft, track_id):
    return _decided(draft, "track", track_id)


@require_POST
def blur(request, pk, kind, item_id):
    draft = visible_draft(request, pk)
    face, blur = _decided(draft, kind, item_id), request.POST.get("blur") == "yes"
    return act(request, draft, _deciding(request, draft, lambda: face_review.set_blur(face, blur, request.user)),
               "The face will be blurred in the published copy." if blur else "The face will not be blurred.")


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def identify(request, pk, kind, item_id):
    draft = visible_draft(request, pk)
    face, upn = _decided(draft, kind, item_id), request.POST.get("upn", "").strip()
    pupil = get_object_or_404(Pupil, upn=upn, on_roll=True) if upn else None
    return act(request, draft, _deciding(request, draft, lambda: face_review.identify(face, pupil, request.user)),
               f"Recorded: the face is {pupil}." if pupil else "The identification was cleared.")


@require_POST
def words_blur(request, pk, words_id):
    draft = visible_draft(request, pk)
    words = get_object_or_404(MediaText.objects.select_related("media__draft"), pk=words_id, media__draft=draft)
    blur = request.POST.get("blur") == "yes"
    return act(request, draft, _deciding(request, draft, lambda: face_review.set_words_blur(words, blur, request.user), pipeline.WORDS_DECISION_GATES),
                "The words will be blurred in the published copy." if blur else "The words will not be blurred.")


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def language_judge(request, pk):
    draft = visible_draft(request, pk)
    return act(
        request, draft,
        lambda: language_review.review(
            draft, request.user, where=request.POST.get("where", ""), sentence=request.POST.get("sentence", ""),
            verdict=request.POST.get("verdict", ""), reason=request.POST.get("reason", ""),
        ),
        "Your judgement of the flagged words is recorded.",
    )


@require_POST
def video_thumbnail_choose(request, pk, media_id):
    draft = authors_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    try:
        seconds = float(request.POST.get("seconds", ""))
    except ValueError:
        messages.error(request, "Give the time of the frame in seconds, for example 4.5.")
        return redirect("draft", pk=pk)
    return act(request, draft, lambda: video_review.set_thumbnail(media, seconds, request.user),
                f"The thumbnail is now the frame at {seconds:g} s.")


def track_view(request, pk, track_id):
    """The best view of a face track, as a JPEG, for the people deciding about it."""
    draft = visible_draft(request, pk)
    track = get_object_or_404(VideoTrack, pk=track_id, media__draft=draft)
    if not track.view:  # deleted with the original once the draft was published or withdrawn
        raise Http404("This face's view was deleted with the original video.")
    return HttpResponse(crypto.decrypt_picture(track.view), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def video_thumbnail(request, pk, media_id):
    """The thumbnail of a video as it would be published now, as a JPEG."""
    import io

    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    try:
        image, _ = video_review.thumbnail_preview(media)
    except Exception:
        raise Http404("The thumbnail cannot be shown.")
    image.thumbnail((640, 640))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return HttpResponse(buffer.getvalue(), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


@require_POST
def face_mark(request, pk, media_id):
    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id)
    try:
        box = [int(request.POST[k]) for k in ("top", "right", "bottom", "left")]
    except (KeyError, ValueError):
        messages.error(request, "Drag a box around the face on the photo first.")
        return redirect("draft", pk=pk)
    return act(request, draft, _deciding(request, draft, lambda: face_review.mark(media, box, request.user)),
                "The face was marked. It counts like any other face.")


@require_POST
def face_unmark(request, pk, face_id):
    draft = visible_draft(request, pk)
    return act(request, draft, _deciding(request, draft, lambda: face_review.unmark(_face(draft, face_id), request.user)), "The mark was removed.")


TYPED_APPROVAL = "moderation.typed_approval"


def approval_form(request, draft) -> ApprovalForm:
    """The approval form, with what the approver ticked and wrote when an approval was refused."""
    typed = request.session.pop(TYPED_APPROVAL, None)
    if typed and typed.get("draft") == draft.pk:
        return ApprovalForm(initial=typed["fields"])
    return ApprovalForm()


def _keep_typed_approval(request, draft):
    fields = {f"attest_{key}": request.POST.get(f"attest_{key}") == "on" for key, _ in ATTESTATIONS}
    fields["comment"] = request.POST.get("comment", "")
    request.session[TYPED_APPROVAL] = {"draft": draft.pk, "fields": fields}


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def approve_draft(request, pk):
    draft = visible_draft(request, pk)
    form = ApprovalForm(request.POST)
    if not form.is_valid():
        _keep_typed_approval(request, draft)
        messages.error(request, "Confirm every statement before approving.")
        return redirect("draft", pk=pk)
    _keep_typed_approval(request, draft)  # kept until the page shows it again: a refusal loses nothing
    response = act(
        request, draft, lambda: approving.approve(draft, request.user, form.confirmed(), form.cleaned_data["comment"],
                                                 seen_hash=request.POST.get("seen_hash", "")),
        "Approved." + (
            f" It will be published automatically at {timezone.localtime(draft.publish_at):%H:%M on %d %B %Y}, after every check runs again."
            if draft.publish_at else " It can be published now."
        ),
    )
    draft.refresh_from_db(fields=["status"])
    if draft.status != Draft.Status.AWAITING_APPROVAL:
        request.session.pop(TYPED_APPROVAL, None)
    return response


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def send_back_draft(request, pk):
    draft = visible_draft(request, pk)
    form = SendBackForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    return act(request, draft, lambda: approving.send_back(draft, request.user, comment), "Sent back to its author.")


@permission_required("moderation.approve_draft", raise_exception=True)
def queue(request):
    drafts = Draft.objects.filter(status=Draft.Status.AWAITING_APPROVAL).select_related("channel", "author").order_by("updated_at", "pk")
    return render(request, "moderation/queue.html", {"page": page_of(request, drafts)})


# A track's box on a frame: green with consent, blue blurred, red for anything still to decide.
FRAME_COLOURS = {"consented": (46, 125, 50), "confirmed": (46, 125, 50), "blurred": (21, 101, 192)}


def _frame_time(ms: int) -> float:
    return max(0.0, ms / 1000)


def video_frame(request, pk, media_id, ms):
    """One frame of a video as it will be published, as a JPEG, with every face track on screen
    boxed and numbered as in the list; ?w= scales it to that width (a filmstrip's frames)."""
    import io

    from PIL import ImageDraw

    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    seconds = _frame_time(ms)
    try:
        image, _ = video_review.published_frame(media, seconds)
    except Exception:
        raise Http404("The frame cannot be shown.")
    try:
        width = int(request.GET.get("w", "0"))
    except ValueError:
        width = 0
    scale = 1.0
    if 40 <= width < image.width:  # a filmstrip's frame: made small first, so the boxes stay sharp
        scale = width / image.width
        image = image.resize((width, round(image.height * scale)))
    draw = ImageDraw.Draw(image)
    line = max(2, image.width // 200)
    statuses = {row["track"].pk: row["status"] for row in track_rows(draft, media)}
    for number, track, box in video_review.tracks_at(media, seconds):
        top, right, bottom, left = (round(v * scale) for v in box)
        colour = FRAME_COLOURS.get(statuses.get(track.pk), (198, 40, 40))
        draw.rectangle((left, top, right, bottom), outline=colour, width=line)
        draw.text((left + line, max(0, top - 7 * line)), str(number), fill=colour, font_size=max(11, 6 * line),
                  stroke_width=1, stroke_fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return HttpResponse(buffer.getvalue(), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def video_frame_page(request, pk, media_id, ms):
    """One frame large, with its face tracks, to look at closely and to mark a face the engine missed."""
    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    seconds = _frame_time(ms)
    step = round(video_review.FILMSTRIP_EVERY_SECONDS * 1000)
    user = request.user
    is_reviewing = draft.status == Draft.Status.AWAITING_APPROVAL and approving.can_approve(draft, user)
    return render(request, "moderation/video_frame.html", {
        "draft": draft, "m": media, "seconds": seconds, "ms": ms, "earlier": max(0, ms - step), "later": ms + step,
        "on_screen": video_review.tracks_at(media, seconds), "made": video_copies.is_made(media),
        "can_decide_faces": is_reviewing or (user.pk == draft.author_id and draft.is_editable),
    })


def video_published(request, pk, media_id):
    """The published copy of a video, once made: the very file that will be published."""
    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    path = video_copies.current(media)
    if path is None:
        raise Http404("The published copy is still being made.")
    return FileResponse(open(path, "rb"), content_type="video/mp4", headers={"Cache-Control": "private, no-store"})


@require_POST
def track_mark(request, pk, media_id):
    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    try:
        box = [int(request.POST[k]) for k in ("top", "right", "bottom", "left")]
        seconds = float(request.POST["seconds"])
    except (KeyError, ValueError):
        messages.error(request, "Drag a box around the face on the frame first.")
        return redirect("draft", pk=pk)
    return act(request, draft, _deciding(request, draft, lambda: video_review.mark_track(media, seconds, box, request.user)),
                "The face was marked and followed through the frames around it. It counts like any other face: blur it or say who it is.")


@require_POST
def track_unmark(request, pk, track_id):
    draft = visible_draft(request, pk)
    track = get_object_or_404(VideoTrack, pk=track_id, media__draft=draft)
    return act(request, draft, _deciding(request, draft, lambda: video_review.unmark_track(track, request.user)), "The mark was removed.")
