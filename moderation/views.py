"""Thin views: they read forms, call the services, and show the result."""

import csv
import functools
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from django.db import connection as db_connection
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.school import crypto
from moderation.mirror import media_response
from config.school import audit
from moderation import face_review, language_review, publishing, reviews, services, video_copies, video_review
from moderation import personal_data
from moderation.forms import (
    ApprovalForm,
    ChannelForm,
    DraftForm,
    MediaDetailsForm,
    MediaForm,
    NewDraftForm,
    PublishedPostFilter,
    RiskAssessmentForm,
    SendBackForm,
)
from moderation.attestations import ATTESTATIONS
from moderation.gates import PIPELINE
from moderation.media import MediaRejected
from config.school.models import AuditEntry, AuditSeal
from connectors.models import Channel, Connection, QuotaDay
from moderation.models import (
    Concern,
    Draft,
    IllegalTransition,
    MediaFace,
    MediaFile,
    MediaText,
    PlatformComment,
    PublishedPost,
    VideoTrack,
)
from consent.models import Pupil
from config.school.roles import HEADTEACHER, has_role


def aup_required(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not services.has_accepted_aup(request.user):
            messages.info(request, f"Please accept version {settings.SCHOOL.aup_version} of the Acceptable Use Policy first.")
            return redirect(f"{reverse('aup')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapped


def _message_for(error) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def _act(request, draft, action, success):
    """Run a service call for a draft; show its refusal as a message instead of an error page."""
    try:
        action()
    except services.PublishWaiting as error:
        messages.warning(request, str(error))
    except (ValidationError, services.PublishRefused, MediaRejected, IllegalTransition) as error:
        messages.error(request, _message_for(error))
    except services.AUPNotAccepted:
        return redirect(f"{reverse('aup')}?{urlencode({'next': draft.get_absolute_url()})}")
    except (OperationalError, InterfaceError):
        # The database went away mid-way (a restart): its transaction was rolled back, so nothing
        # was half done. A fresh connection serves the rest of this request.
        db_connection.close()
        messages.error(request, "The database did not answer (it may be restarting), so nothing was changed. Try again in a moment.")
    else:
        if success:
            messages.success(request, success)
    return redirect("draft", pk=draft.pk)


def _deciding(request, draft, decide, gates=services.FACE_DECISION_GATES):
    """A decision about a face or words, then the checks it touches, run again at once."""
    def act():
        decide()
        services.recheck_after_decision(draft, request.user, gates)

    return act


def _form_errors(form) -> str:
    """A form's refusals in words, each after the name of its field."""
    return " ".join(
        f"{form.fields[name].label or name.replace('_', ' ').capitalize() if name in form.fields else 'The form'}: {' '.join(errors)}"
        for name, errors in form.errors.items()
    )


def _ready_to_publish(user):
    if not user.has_perm("moderation.publish_draft"):
        return []
    drafts = Draft.objects.filter(status__in=[Draft.Status.APPROVED, Draft.Status.HELD, Draft.Status.WAITING]).select_related("channel")
    if not user.has_perm("moderation.approve_draft"):
        drafts = drafts.filter(author=user)
    return drafts[:20]


def _channels_to_reconnect():
    return [c.channel for c in Connection.objects.filter(status=Connection.Status.RECONNECT_NEEDED).select_related("channel")]


def _reviews_due():
    now = timezone.now()
    return [(r, r.overdue(now)) for r in reviews.all_reviews() if r.overdue(now) or r.due_soon(now)]


def home(request):
    user = request.user
    context = {
        "my_drafts": Draft.objects.filter(author=user).exclude(status__in=[Draft.Status.PUBLISHED, Draft.Status.WITHDRAWN]).select_related("channel")[:20],
        "queue_count": Draft.objects.filter(status=Draft.Status.AWAITING_APPROVAL).exclude(author=user).count()
        if user.has_perm("moderation.approve_draft") else None,
        "to_publish": _ready_to_publish(user),
        "blocked_channels": [(c, services.channel_problems(c)) for c in Channel.objects.filter(active=True)],
        "aup_accepted": services.has_accepted_aup(user),
        "recent": PublishedPost.objects.select_related("channel")[:5],
        "takedown_count": len(services.posts_to_take_down()) if user.has_perm("moderation.view_publication_log") else 0,
        "reconnect_needed": _channels_to_reconnect() if user.has_perm("moderation.view_publication_log") else [],
        "open_concerns": Concern.objects.filter(status=Concern.Status.OPEN).count() if user.has_perm("moderation.handle_concern") else 0,
        "comments_of_concern": PlatformComment.objects.filter(status=PlatformComment.Status.CONCERN).count()
        if user.has_perm("moderation.handle_concern") else 0,
        "reviews_due": _reviews_due() if user.has_perm("connectors.manage_channel") else [],
    }
    context["blocked_channels"] = [(c, p) for c, p in context["blocked_channels"] if p]
    return render(request, "moderation/home.html", context)


def accept_aup(request):
    if request.method == "POST":
        if request.POST.get("accept") == "yes":
            services.accept_aup(request.user)
            messages.success(request, f"Thank you: you accepted version {settings.SCHOOL.aup_version} of the Acceptable Use Policy.")
            target = request.POST.get("next") or ""
            return redirect(target if target.startswith("/") and not target.startswith("//") else "home")
        messages.error(request, "Tick the box to accept the policy.")
    return render(request, "moderation/aup.html", {"next": request.GET.get("next", ""), "accepted": services.has_accepted_aup(request.user)})


# --- Drafts ------------------------------------------------------------------------------


def _authors_draft(request, pk) -> Draft:
    """A draft only its author may change: refused before any form is read."""
    draft = _visible_draft(request, pk)
    if request.user.pk != draft.author_id:
        raise PermissionDenied("Only the draft's author can change it.")
    return draft


def _visible_draft(request, pk) -> Draft:
    draft = get_object_or_404(Draft.objects.select_related("channel", "author"), pk=pk)
    user = request.user
    if not (user.pk == draft.author_id or user.has_perm("moderation.approve_draft") or user.has_perm("moderation.view_publication_log")):
        raise PermissionDenied("You cannot see this draft.")
    return draft


def draft_progress(request, pk):
    """How far each file's analysis has gone, for the draft page to show without reloading."""
    draft = _visible_draft(request, pk)
    now = timezone.now()
    files = [
        {"media": m.pk, "analysis": m.analysis, "percent": round(100 * m.analysis_progress), "words": m.analysis_words(now)}
        for m in draft.media.all()
    ]
    return JsonResponse({"analysing": any(f["analysis"] in ("queued", "running") for f in files), "files": files})


@permission_required("moderation.add_draft", raise_exception=True)
@aup_required
def new_draft(request):
    channels = services.channels_for_author(request.user)
    if not channels.exists():
        messages.error(request, "You are not authorised to post on any channel yet. Ask the headteacher to add you to a channel.")
        return redirect("home")
    form = NewDraftForm(request.POST or None, channels=channels)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        channel = data.pop("channel")
        try:
            draft = services.create_draft(request.user, channel, **data)
        except (PermissionDenied, ValidationError) as error:
            messages.error(request, _message_for(error))
        else:
            messages.success(request, "Draft saved. Add photos or videos if it has any, then submit it for checking.")
            return redirect("draft", pk=draft.pk)
    return render(request, "moderation/draft_form.html", {"form": form, "new": True})


def my_drafts(request):
    drafts = Draft.objects.filter(author=request.user).select_related("channel").order_by("-updated_at", "-pk")
    page = _page(request, drafts)
    return render(request, "moderation/draft_list.html", {"drafts": page, "page": page, "heading": "My drafts"})


def draft_detail(request, pk, media_form=None, status=200):
    """The draft's page. media_form: an upload form refused, shown with its errors beside its fields."""
    draft = _visible_draft(request, pk)
    user = request.user
    run = services.latest_run(draft)
    approval = draft.approvals.filter(voided_at__isnull=True).select_related("approver").first()
    media = list(draft.media.prefetch_related("words"))
    try:
        strip_from = max(0, int(request.GET.get("strip", "0")))
    except ValueError:
        strip_from = 0
    names = personal_data.Names.from_register() if media else None
    for m in media:
        m.face_rows = _face_rows(draft, m) if m.kind == "image" else []
        m.word_rows = _word_rows(m, names)
        m.track_rows = _track_rows(draft, m) if m.kind == "video" else []
        if m.kind == "video" and m.faces_found_at:
            m.filmstrip = [(t, round(t * 1000)) for t in video_review.filmstrip_times(m, strip_from)]
            m.copy_ready = video_copies.current(m) is not None
            m.unfollowed = [(s.time, round(s.time * 1000)) for s in video_copies.unfollowed(m)]
            m.strip_from, m.strip_next = strip_from, strip_from + video_review.FILMSTRIP_PAGE_SECONDS
        m.label_size = max(12, (m.width or 400) // 35)
    is_reviewing = draft.status == Draft.Status.AWAITING_APPROVAL and services.can_approve(draft, user)
    context = {
        "media": media,
        "can_decide_faces": is_reviewing or (user.pk == draft.author_id and draft.is_editable),
        "can_identify_faces": is_reviewing,
        "analysing": any(m.analysis in ("queued", "running") for m in media),
        "language_flags": language_review.flags_with_reviews(draft) if draft.has_text_to_check else [],
        "can_judge_language": is_reviewing,
        "pupils": _pupils_for_identification() if is_reviewing else [],
        "draft": draft,
        "run": run,
        "results": services.results_now(draft, run),
        "run_waiting": bool(run) and run.results.filter(status="waiting").exists(),
        "failed": services.failures(run) if run and draft.status in (Draft.Status.RETURNED, Draft.Status.HELD) and not run.passed else [],
        "pipeline": PIPELINE,
        "approval": approval,
        "is_author": user.pk == draft.author_id,
        "can_approve": services.can_approve(draft, user) and draft.status == Draft.Status.AWAITING_APPROVAL,
        "can_publish": draft.status in (Draft.Status.APPROVED, Draft.Status.HELD, Draft.Status.WAITING)
        and user.has_perm("moderation.publish_draft")
        and (user.pk == draft.author_id or user.has_perm("moderation.approve_draft")),
        "media_form": MediaForm() if draft.is_editable and user.pk == draft.author_id else None,
        "rights_choices": MediaFile.Rights.choices,
        "approval_form": _approval_form(request, draft),
        # The approve form says which content the approver read; a change since refuses the approval.
        "seen_hash": services.freeze(draft, read_bytes=False).hash if is_reviewing else "",
        "send_back_form": SendBackForm(),
        "audit": draft.audit_entries.select_related("actor").order_by("at", "id"),
        "now": timezone.now(),
        "retention_days": settings.DRAFT_RETENTION_DAYS,
    }
    if media_form is not None:
        context["media_form"] = media_form
    return render(request, "moderation/draft_detail.html", context, status=status)


@aup_required
def edit_draft(request, pk):
    draft = _visible_draft(request, pk)
    if request.user.pk != draft.author_id:
        raise PermissionDenied("Only the author can change this draft.")
    if not draft.is_editable:
        messages.error(request, "Reopen the draft for editing first.")
        return redirect("draft", pk=pk)
    form = DraftForm(request.POST or None, instance=draft)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in form.fields}
        draft.refresh_from_db()
        try:
            changed = services.update_draft(draft, request.user, **data)
        except ValidationError as error:
            messages.error(request, _message_for(error))
        else:
            messages.success(request, "Draft saved." if changed else "Nothing changed.")
            return redirect("draft", pk=pk)
    return render(request, "moderation/draft_form.html", {"form": form, "draft": draft})


@require_POST
def add_media(request, pk):
    draft = _authors_draft(request, pk)
    files = request.FILES  # reading the upload, which stops past MEDIA_MAX_BYTES (moderation.uploads)
    too_large = getattr(request, "upload_too_large", None)
    if too_large is not None:
        messages.error(request, f"'{too_large}' is larger than the {filesizeformat(settings.MEDIA_MAX_BYTES)} allowed: it was not kept.")
        return redirect("draft", pk=pk)
    form = MediaForm(request.POST, files)
    if not form.is_valid():
        # Shown again with each error beside its field, and what was typed kept. (A browser never
        # fills a file field in again: the page says so beside it.)
        if "file" not in form.errors and files.get("file"):
            form.add_error("file", f"Choose '{files['file'].name}' again: a browser cannot keep a chosen file when the page is shown again.")
        messages.error(request, "The file was not added: see what is missing below.")
        return draft_detail(request, pk, media_form=form, status=400)
    data = form.cleaned_data
    return _act(
        request, draft,
        lambda: services.add_media(draft, request.user, data["file"], source=data["source"], rights=data["rights"], alt_text=data["alt_text"]),
        f"'{data['file'].name}' added.",
    )


@require_POST
def media_details(request, pk, media_id):
    draft = _authors_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id)
    form = MediaDetailsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("draft", pk=pk)
    return _act(request, draft, lambda: services.update_media_details(draft, request.user, media.pk, **form.cleaned_data),
                f"The details of '{media.original_name}' are saved.")


@require_POST
def remove_media(request, pk, media_id):
    draft = _visible_draft(request, pk)
    get_object_or_404(draft.media, pk=media_id)  # another draft's file is not found here
    return _act(request, draft, lambda: services.remove_media(draft, request.user, media_id), "File removed.")


FACE_LABELS = {
    "consented": "Consented", "confirmed": "Confirmed, consented", "uncertain": "Uncertain",
    "no-consent": "No consent", "unknown": "Unknown", "blurred": "Blurred",
}


def _face_rows(draft, media):
    """Each face with its status as the checks would see it now, for the page."""
    from types import SimpleNamespace

    from moderation.gates.image_consent import face_status

    rows = []
    for face in media.faces.select_related("marked_by", "identified_by", "auto_pupil"):
        item = SimpleNamespace(
            blur=face.blur, identified_pupil_id=face.identified_pupil_id,
            identified_by=services.display_name(face.identified_by) if face.identified_by_id else "",
        )
        match = SimpleNamespace(status=face.auto_status, pupil=face.auto_pupil, distance=face.auto_distance) if face.auto_status else None
        status, why = face_status(item, match, draft.channel.kind)
        if match is None and status == "unknown":
            why = "not yet checked against the register: the checks will match it when the draft is submitted"
        rows.append({"face": face, "status": status, "label": FACE_LABELS[status], "why": why,
                     "width": face.right - face.left, "height": face.bottom - face.top})
    return rows


def _track_rows(draft, media):
    """Each face track of a video with its status as the checks last saw it."""
    from types import SimpleNamespace

    from moderation.gates.image_consent import face_status

    rows = []
    for track in media.tracks.select_related("identified_by", "auto_pupil"):
        item = SimpleNamespace(blur=track.blur, identified_pupil_id=track.identified_pupil_id,
                               identified_by=services.display_name(track.identified_by) if track.identified_by_id else "")
        match = SimpleNamespace(status=track.auto_status, pupil=track.auto_pupil, distance=track.auto_distance) if track.auto_status else None
        status, why = face_status(item, match, draft.channel.kind)
        rows.append({"track": track, "status": status, "label": FACE_LABELS[status], "why": why,
                     "span": f"{int(track.start // 60)}:{track.start % 60:04.1f}–{int(track.end // 60)}:{track.end % 60:04.1f}",
                     "best": f"{int(track.best_time // 60)}:{track.best_time % 60:04.1f}"})
    return rows


def _word_rows(media, names):
    """Each line of words read in the photo, with the personal data in it."""
    allowed = settings.SCHOOL.own_address_parts
    return [
        {"words": w, "findings": personal_data.find(w.text, "picture", names, allowed),
         "when": None if w.time is None else f"{int(w.time // 60)}:{w.time % 60:04.1f}"}
        for w in media.words.all()
    ]


def _pupils_for_identification():
    return Pupil.objects.filter(on_roll=True).order_by("year_group", "legal_surname", "legal_forename")


def media_preview(request, pk, media_id):
    """The photo as it would be published now (orientation applied, the chosen faces and words
    pixelated), as a JPEG any browser can display."""
    import io

    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="image")
    try:
        image = face_review.published_preview(media)
    except Exception:
        raise Http404("The photo cannot be shown.")
    image.thumbnail((1600, 1600))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=85)
    return HttpResponse(buffer.getvalue(), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def _face(draft, face_id):
    return get_object_or_404(MediaFace.objects.select_related("media__draft"), pk=face_id, media__draft=draft)


@require_POST
def words_blur(request, pk, words_id):
    draft = _visible_draft(request, pk)
    words = get_object_or_404(MediaText.objects.select_related("media__draft"), pk=words_id, media__draft=draft)
    blur = request.POST.get("blur") == "yes"
    return _act(request, draft, _deciding(request, draft, lambda: face_review.set_words_blur(words, blur, request.user), services.WORDS_DECISION_GATES),
                "The words will be blurred in the published copy." if blur else "The words will not be blurred.")


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def language_judge(request, pk):
    draft = _visible_draft(request, pk)
    return _act(
        request, draft,
        lambda: language_review.review(
            draft, request.user, where=request.POST.get("where", ""), sentence=request.POST.get("sentence", ""),
            verdict=request.POST.get("verdict", ""), reason=request.POST.get("reason", ""),
        ),
        "Your judgement of the flagged words is recorded.",
    )


@require_POST
def face_blur(request, pk, face_id):
    draft = _visible_draft(request, pk)
    return _blur_from_form(request, draft, _face(draft, face_id))


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def face_identify(request, pk, face_id):
    draft = _visible_draft(request, pk)
    return _identity_from_form(request, draft, _face(draft, face_id))


@require_POST
def video_thumbnail_choose(request, pk, media_id):
    draft = _authors_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    try:
        seconds = float(request.POST.get("seconds", ""))
    except ValueError:
        messages.error(request, "Give the time of the frame in seconds, for example 4.5.")
        return redirect("draft", pk=pk)
    return _act(request, draft, lambda: video_review.set_thumbnail(media, seconds, request.user),
                f"The thumbnail is now the frame at {seconds:g} s.")


def track_view(request, pk, track_id):
    """The best view of a face track, as a JPEG, for the people deciding about it."""
    draft = _visible_draft(request, pk)
    track = get_object_or_404(VideoTrack, pk=track_id, media__draft=draft)
    if not track.view:  # deleted with the original once the draft was published or withdrawn
        raise Http404("This face's view was deleted with the original video.")
    return HttpResponse(crypto.decrypt_picture(track.view), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def video_thumbnail(request, pk, media_id):
    """The thumbnail of a video as it would be published now, as a JPEG."""
    import io

    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    try:
        image, _ = video_review.thumbnail_preview(media)
    except Exception:
        raise Http404("The thumbnail cannot be shown.")
    image.thumbnail((640, 640))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return HttpResponse(buffer.getvalue(), content_type="image/jpeg", headers={"Cache-Control": "private, no-store"})


def _blur_from_form(request, draft, face):
    blur = request.POST.get("blur") == "yes"
    return _act(request, draft, _deciding(request, draft, lambda: face_review.set_blur(face, blur, request.user)),
                "The face will be blurred in the published copy." if blur else "The face will not be blurred.")


def _identity_from_form(request, draft, face):
    upn = request.POST.get("upn", "").strip()
    pupil = get_object_or_404(Pupil, upn=upn, on_roll=True) if upn else None
    return _act(request, draft, _deciding(request, draft, lambda: face_review.identify(face, pupil, request.user)),
                f"Recorded: the face is {pupil}." if pupil else "The identification was cleared.")


def _track(draft, track_id):
    return get_object_or_404(VideoTrack.objects.select_related("media__draft"), pk=track_id, media__draft=draft)


@require_POST
def track_blur(request, pk, track_id):
    draft = _visible_draft(request, pk)
    return _blur_from_form(request, draft, _track(draft, track_id))


@require_POST
@permission_required("moderation.approve_draft", raise_exception=True)
def track_identify(request, pk, track_id):
    draft = _visible_draft(request, pk)
    return _identity_from_form(request, draft, _track(draft, track_id))


@require_POST
def face_mark(request, pk, media_id):
    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id)
    try:
        box = [int(request.POST[k]) for k in ("top", "right", "bottom", "left")]
    except (KeyError, ValueError):
        messages.error(request, "Drag a box around the face on the photo first.")
        return redirect("draft", pk=pk)
    return _act(request, draft, _deciding(request, draft, lambda: face_review.mark(media, box, request.user)),
                "The face was marked. It counts like any other face.")


@require_POST
def face_unmark(request, pk, face_id):
    draft = _visible_draft(request, pk)
    return _act(request, draft, _deciding(request, draft, lambda: face_review.unmark(_face(draft, face_id), request.user)), "The mark was removed.")


def published_media(request, pk, position):
    """What went out, for the people who may read the draft: the published copy, kept after a takedown too."""
    draft = _visible_draft(request, pk)
    post = get_object_or_404(PublishedPost, draft=draft)
    return media_response(post, position)


def media_original(request, pk, media_id):
    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id)
    try:
        handle = open(media.path, "rb")
    except OSError:
        raise Http404("The file is missing.")
    return FileResponse(handle, content_type=media.content_type, headers={"Cache-Control": "private, no-store"})


@require_POST
def submit_draft(request, pk):
    draft = _visible_draft(request, pk)

    def go():
        run = services.submit(draft, request.user)
        if not run.passed:
            raise ValidationError("Some checks failed: the draft has come back to you. Fix what each failed check says, then submit again.")
        waiting = run.results.filter(status="waiting").count()
        messages.success(request, (
            f"Every automatic check passed; {waiting} wait{'s' if waiting == 1 else ''} for the approver, who decides them. "
            if waiting else "Every check passed. ") + "The draft is waiting for a colleague's approval.")

    return _act(request, draft, go, "")


@require_POST
def reopen_draft(request, pk):
    draft = _visible_draft(request, pk)
    return _act(request, draft, lambda: services.reopen(draft, request.user), "The draft is open for editing. Any approval it had no longer applies.")


@require_POST
def withdraw_draft(request, pk):
    draft = _visible_draft(request, pk)
    return _act(request, draft, lambda: services.withdraw(draft, request.user), "The draft was withdrawn.")


TYPED_APPROVAL = "moderation.typed_approval"


def _approval_form(request, draft) -> ApprovalForm:
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
    draft = _visible_draft(request, pk)
    form = ApprovalForm(request.POST)
    if not form.is_valid():
        _keep_typed_approval(request, draft)
        messages.error(request, "Confirm every statement before approving.")
        return redirect("draft", pk=pk)
    _keep_typed_approval(request, draft)  # kept until the page shows it again: a refusal loses nothing
    response = _act(
        request, draft, lambda: services.approve(draft, request.user, form.confirmed(), form.cleaned_data["comment"],
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
    draft = _visible_draft(request, pk)
    form = SendBackForm(request.POST)
    comment = form.cleaned_data["comment"] if form.is_valid() else ""
    return _act(request, draft, lambda: services.send_back(draft, request.user, comment), "Sent back to its author.")


@require_POST
def publish_draft(request, pk):
    draft = _visible_draft(request, pk)
    return _act(request, draft, lambda: services.publish(draft, request.user), "Published. It is in the log and on the school's news page.")


PAGE_SIZE = 50


def _page(request, queryset):
    """One page of a long list (oldest first in the queue), so the page stays fast with thousands of drafts."""
    from django.core.paginator import Paginator

    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))


@permission_required("moderation.approve_draft", raise_exception=True)
def queue(request):
    drafts = Draft.objects.filter(status=Draft.Status.AWAITING_APPROVAL).select_related("channel", "author").order_by("updated_at", "pk")
    return render(request, "moderation/queue.html", {"page": _page(request, drafts)})


# --- Channels ------------------------------------------------------------------------------


def channel_list(request):
    channels = [(c, services.channel_problems(c)) for c in Channel.objects.all()]
    return render(request, "moderation/channel_list.html", {"channels": channels})


def channel_detail(request, pk):
    channel = get_object_or_404(Channel, pk=pk)
    connection = Connection.objects.filter(channel=channel).select_related("connected_by").first()
    return render(request, "moderation/channel_detail.html", {
        "connection": connection,
        "facebook_app_live": connection.app_is_live if connection and channel.kind == Channel.Kind.FACEBOOK else None,
        "quota_spent": QuotaDay.spent(channel),
        "quota_limit": settings.YOUTUBE_DAILY_QUOTA,
        "is_headteacher": request.user.has_perm("connectors.approve_channel") and has_role(request.user, HEADTEACHER),
        "channel": channel,
        "problems": services.channel_problems(channel),
        "assessment": channel.current_risk_assessment,
        "expires": channel.current_risk_assessment.expires_at(settings.SCHOOL.risk_assessment_months) if channel.current_risk_assessment else None,
        "history": channel.audit_entries.select_related("actor")[:50],
        "now": timezone.now(),
    })


@permission_required("connectors.manage_channel", raise_exception=True)
def channel_edit(request, pk=None):
    channel = get_object_or_404(Channel, pk=pk) if pk else Channel()
    form = ChannelForm(request.POST or None, instance=channel, allow_unlisted=settings.SCHOOL.allow_youtube_unlisted)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        login_holders, authors = data.pop("login_holders"), data.pop("authors")
        if channel.pk:
            data.pop("kind", None)
        else:
            channel.kind = data.pop("kind")
        try:
            services.update_channel(channel, request.user, login_holders=login_holders, authors=authors, **data)
        except ValidationError as error:
            messages.error(request, _message_for(error))
        else:
            messages.success(request, "Channel record saved.")
            return redirect("channel", pk=channel.pk)
    return render(request, "moderation/channel_form.html", {"form": form, "channel": channel})


@permission_required("connectors.approve_channel", raise_exception=True)
def channel_risk_assessment(request, pk):
    channel = get_object_or_404(Channel, pk=pk)
    current = channel.current_risk_assessment
    form = RiskAssessmentForm(request.POST or None, initial={"summary": current.summary if current else "", "document_reference": current.document_reference if current else ""})
    if request.method == "POST" and form.is_valid():
        services.approve_risk_assessment(channel, request.user, summary=form.cleaned_data["summary"], document_reference=form.cleaned_data["document_reference"])
        messages.success(request, f"Risk assessment of '{channel}' approved for 12 months.")
        return redirect("channel", pk=pk)
    return render(request, "moderation/risk_assessment_form.html", {"form": form, "channel": channel})


# --- The headteacher's log ------------------------------------------------------------------


def _log_queryset(request):
    posts = PublishedPost.objects.select_related("channel", "draft__author", "approval__approver", "published_by", "gate_run").prefetch_related("gate_run__results")
    return PublishedPostFilter(request.GET or None, queryset=posts)


@permission_required("moderation.view_publication_log", raise_exception=True)
def publication_log(request):
    filterset = _log_queryset(request)
    return render(request, "moderation/log.html", {"filter": filterset, "posts": filterset.qs[:500], "query": request.GET.urlencode()})


@permission_required("moderation.view_publication_log", raise_exception=True)
def publication_log_csv(request):
    filterset = _log_queryset(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="published-{timezone.localdate():%Y-%m-%d}.csv"'
    writer = csv.writer(response)
    writer.writerow(["published_at", "channel", "platform_post_id", "title", "text", "link", "author", "approved_by", "published_by", "content_hash", "gate_results",
                     "taken_down_at"])
    for post in filterset.qs:
        results = "; ".join(f"{r.gate_id}={r.status} [{r.clause}]" for r in post.gate_run.results.all())
        writer.writerow([
            timezone.localtime(post.published_at).isoformat(), post.channel.name, post.platform_post_id, _safe_cell(post.title), _safe_cell(post.text), post.link,
            services.display_name(post.draft.author), services.display_name(post.approved_by), services.display_name(post.published_by),
            post.content_hash, results, timezone.localtime(post.taken_down_at).isoformat() if post.taken_down_at else "",
        ])
    return response


def _safe_cell(value: str) -> str:
    # A cell starting with = + - @ would run as a formula when the CSV is opened in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@permission_required("moderation.view_publication_log", raise_exception=True)
def publication_log_entry(request, pk):
    post = get_object_or_404(PublishedPost.objects.select_related("channel", "draft__author", "approval__approver", "published_by", "gate_run"), pk=pk)
    return render(request, "moderation/log_entry.html", {
        "post": post,
        "results": post.gate_run.results.all(),
        "audit": post.draft.audit_entries.select_related("actor").order_by("at", "id"),
        "concerns": post.concerns.all(),
        "comments": post.comments.order_by("written_at", "id"),
    })


@require_POST
@permission_required("moderation.view_publication_log", raise_exception=True)
def post_set_thumbnail(request, pk):
    post = get_object_or_404(PublishedPost.objects.select_related("channel", "draft"), pk=pk)
    try:
        messages.success(request, publishing.set_thumbnail_again(post, request.user))
    except ValidationError as error:
        messages.error(request, _message_for(error))
    return redirect("log_entry", pk=pk)


@permission_required("moderation.view_publication_log", raise_exception=True)
def takedown_list(request):
    return render(request, "moderation/takedown.html", {"rows": services.posts_to_take_down()})


@permission_required("moderation.view_publication_log", raise_exception=True)
def audit_trail(request):
    entries = AuditEntry.objects.select_related("actor", "draft", "channel")[:500]
    seals = AuditSeal.objects.select_related("taken_by")[:10]
    return render(request, "moderation/audit.html", {"entries": entries, "seals": seals})


@require_POST
@permission_required("moderation.view_publication_log", raise_exception=True)
def audit_seal(request):
    seal = audit.take_seal(by=request.user)
    messages.success(request, f"Sealed at entry {seal.entry_id}" + (f" and emailed to {seal.sent_to}." if seal.sent_to else
                     ": no headteacher's email address is set, so write the seal down from this page."))
    return redirect("audit")


# --- A video as it will be published: the player, the filmstrip and marking a missed face ----------


# A track's box on a frame: green with consent, blue blurred, red for anything still to decide.
FRAME_COLOURS = {"consented": (46, 125, 50), "confirmed": (46, 125, 50), "blurred": (21, 101, 192)}


def _frame_time(ms: int) -> float:
    return max(0.0, ms / 1000)


def video_frame(request, pk, media_id, ms):
    """One frame of a video as it will be published, as a JPEG, with every face track on screen
    boxed and numbered as in the list; ?w= scales it to that width (a filmstrip's frames)."""
    import io

    from PIL import ImageDraw

    draft = _visible_draft(request, pk)
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
    statuses = {row["track"].pk: row["status"] for row in _track_rows(draft, media)}
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
    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    seconds = _frame_time(ms)
    step = round(video_review.FILMSTRIP_EVERY_SECONDS * 1000)
    user = request.user
    is_reviewing = draft.status == Draft.Status.AWAITING_APPROVAL and services.can_approve(draft, user)
    return render(request, "moderation/video_frame.html", {
        "draft": draft, "m": media, "seconds": seconds, "ms": ms, "earlier": max(0, ms - step), "later": ms + step,
        "on_screen": video_review.tracks_at(media, seconds), "made": video_copies.current(media) is not None,
        "can_decide_faces": is_reviewing or (user.pk == draft.author_id and draft.is_editable),
    })


def video_published(request, pk, media_id):
    """The published copy of a video, once made: the very file that will be published."""
    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    path = video_copies.current(media)
    if path is None:
        raise Http404("The published copy is still being made.")
    return FileResponse(open(path, "rb"), content_type="video/mp4", headers={"Cache-Control": "private, no-store"})


@require_POST
def track_mark(request, pk, media_id):
    draft = _visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id, kind="video")
    try:
        box = [int(request.POST[k]) for k in ("top", "right", "bottom", "left")]
        seconds = float(request.POST["seconds"])
    except (KeyError, ValueError):
        messages.error(request, "Drag a box around the face on the frame first.")
        return redirect("draft", pk=pk)
    return _act(request, draft, _deciding(request, draft, lambda: video_review.mark_track(media, seconds, box, request.user)),
                "The face was marked and followed through the frames around it. It counts like any other face: blur it or say who it is.")


@require_POST
def track_unmark(request, pk, track_id):
    draft = _visible_draft(request, pk)
    track = get_object_or_404(VideoTrack, pk=track_id, media__draft=draft)
    return _act(request, draft, _deciding(request, draft, lambda: video_review.unmark_track(track, request.user)), "The mark was removed.")
