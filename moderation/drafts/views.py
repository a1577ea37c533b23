"""Pages for writing a draft: new, edit, media, submit, withdraw, reopen.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.views.decorators.http import require_POST

from moderation.accounts.views import aup_required
from moderation.approval import language_review, video_review
from moderation.approval import services as approving
from moderation.approval.forms import SendBackForm
from moderation.approval.views import (
    approval_form,
    face_rows,
    pupils_for_identification,
    track_rows,
    word_rows,
)
from moderation.drafts import services as drafting
from moderation.drafts.forms import DraftForm, MediaDetailsForm, MediaForm, NewDraftForm
from moderation.gates import pipeline
from moderation.models import (
    Draft,
    MediaFile,
)
from moderation.publishing import video_copies
from moderation.text import personal_data
from moderation.views import (
    act,
    authors_draft,
    form_errors,
    message_for,
    page_of,
    visible_draft,
)


def draft_progress(request, pk):
    """How far each file's analysis has gone, for the draft page to show without reloading."""
    draft = visible_draft(request, pk)
    now = timezone.now()
    files = [
        {"media": m.pk, "analysis": m.analysis, "percent": round(100 * m.analysis_progress), "words": m.analysis_words(now)}
        for m in draft.media.all()
    ]
    return JsonResponse({"analysing": any(f["analysis"] in ("queued", "running") for f in files), "files": files})


@permission_required("moderation.add_draft", raise_exception=True)
@aup_required
def new_draft(request):
    channels = drafting.channels_for_author(request.user)
    if not channels.exists():
        messages.error(request, "You are not authorised to post on any channel yet. Ask the headteacher to add you to a channel.")
        return redirect("home")
    form = NewDraftForm(request.POST or None, channels=channels)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        channel = data.pop("channel")
        try:
            draft = drafting.create_draft(request.user, channel, **data)
        except (PermissionDenied, ValidationError) as error:
            messages.error(request, message_for(error))
        else:
            messages.success(request, "Draft saved. Add photos or videos if it has any, then submit it for checking.")
            return redirect("draft", pk=draft.pk)
    return render(request, "moderation/draft_form.html", {"form": form, "new": True})


def my_drafts(request):
    drafts = Draft.objects.filter(author=request.user).select_related("channel").order_by("-updated_at", "-pk")
    page = page_of(request, drafts)
    return render(request, "moderation/draft_list.html", {"drafts": page, "page": page, "heading": "My drafts"})


def draft_detail(request, pk, media_form=None, status=200):
    """The draft's page. media_form: an upload form refused, shown with its errors beside its fields."""
    draft = visible_draft(request, pk)
    user = request.user
    run = pipeline.latest_run(draft)
    approval = draft.approvals.filter(voided_at__isnull=True).select_related("approver").first()
    media = list(draft.media.prefetch_related("words"))
    try:
        strip_from = max(0, int(request.GET.get("strip", "0")))
    except ValueError:
        strip_from = 0
    names = personal_data.Names.from_register() if media else None
    for m in media:
        m.face_rows = face_rows(draft, m) if m.kind == "image" else []
        m.word_rows = word_rows(m, names)
        m.track_rows = track_rows(draft, m) if m.kind == "video" else []
        if m.kind == "video" and m.faces_found_at:
            m.filmstrip = [(t, round(t * 1000)) for t in video_review.filmstrip_times(m, strip_from)]
            m.copy_ready = video_copies.is_made(m)
            m.unfollowed = [(s.time, round(s.time * 1000)) for s in video_copies.unfollowed(m)]
            m.strip_from, m.strip_next = strip_from, strip_from + video_review.FILMSTRIP_PAGE_SECONDS
        m.label_size = max(12, (m.width or 400) // 35)
    is_reviewing = draft.status == Draft.Status.AWAITING_APPROVAL and approving.can_approve(draft, user)
    context = {
        "media": media,
        "can_decide_faces": is_reviewing or (user.pk == draft.author_id and draft.is_editable),
        "can_identify_faces": is_reviewing,
        "analysing": any(m.analysis in ("queued", "running") for m in media),
        "language_flags": language_review.flags_with_reviews(draft) if draft.has_text_to_check else [],
        "can_judge_language": is_reviewing,
        "pupils": pupils_for_identification() if is_reviewing else [],
        "draft": draft,
        "run": run,
        "results": pipeline.results_now(draft, run),
        "run_waiting": bool(run) and run.results.filter(status="waiting").exists(),
        "failed": pipeline.failures(run) if run and draft.status in (Draft.Status.RETURNED, Draft.Status.HELD) and not run.passed else [],
        "pipeline": pipeline.PIPELINE,
        "approval": approval,
        "is_author": user.pk == draft.author_id,
        "can_approve": approving.can_approve(draft, user) and draft.status == Draft.Status.AWAITING_APPROVAL,
        "can_publish": draft.status in (Draft.Status.APPROVED, Draft.Status.HELD, Draft.Status.WAITING)
        and user.has_perm("moderation.publish_draft")
        and (user.pk == draft.author_id or user.has_perm("moderation.approve_draft")),
        "media_form": MediaForm() if draft.is_editable and user.pk == draft.author_id else None,
        "rights_choices": MediaFile.Rights.choices,
        "approval_form": approval_form(request, draft),
        # The approve form says which content the approver read; a change since refuses the approval.
        "seen_hash": pipeline.freeze(draft, read_bytes=False).hash if is_reviewing else "",
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
    draft = visible_draft(request, pk)
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
            changed = drafting.update_draft(draft, request.user, **data)
        except ValidationError as error:
            messages.error(request, message_for(error))
        else:
            messages.success(request, "Draft saved." if changed else "Nothing changed.")
            return redirect("draft", pk=pk)
    return render(request, "moderation/draft_form.html", {"form": form, "draft": draft})


@require_POST
def add_media(request, pk):
    draft = authors_draft(request, pk)
    files = request.FILES  # reading the upload, which stops past MEDIA_MAX_BYTES (moderation.drafts.uploads)
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
    return act(
        request, draft,
        lambda: drafting.add_media(draft, request.user, data["file"], source=data["source"], rights=data["rights"], alt_text=data["alt_text"]),
        f"'{data['file'].name}' added.",
    )


@require_POST
def media_details(request, pk, media_id):
    draft = authors_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id)
    form = MediaDetailsForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("draft", pk=pk)
    return act(request, draft, lambda: drafting.update_media_details(draft, request.user, media.pk, **form.cleaned_data),
                f"The details of '{media.original_name}' are saved.")


@require_POST
def remove_media(request, pk, media_id):
    draft = visible_draft(request, pk)
    get_object_or_404(draft.media, pk=media_id)  # another draft's file is not found here
    return act(request, draft, lambda: drafting.remove_media(draft, request.user, media_id), "File removed.")


def media_original(request, pk, media_id):
    draft = visible_draft(request, pk)
    media = get_object_or_404(draft.media, pk=media_id)
    try:
        handle = open(media.path, "rb")
    except OSError:  # FileNotFoundError, or files.StorageProblem
        raise Http404("The file is missing.")
    return FileResponse(handle, content_type=media.content_type, headers={"Cache-Control": "private, no-store"})


@require_POST
def submit_draft(request, pk):
    draft = visible_draft(request, pk)

    def go():
        run = drafting.submit(draft, request.user)
        if not run.passed:
            raise ValidationError("Some checks failed: the draft has come back to you. Fix what each failed check says, then submit again.")
        waiting = run.results.filter(status="waiting").count()
        messages.success(request, (
            f"Every automatic check passed; {waiting} wait{'s' if waiting == 1 else ''} for the approver, who decides them. "
            if waiting else "Every check passed. ") + "The draft is waiting for a colleague's approval.")

    return act(request, draft, go, "")


@require_POST
def reopen_draft(request, pk):
    draft = visible_draft(request, pk)
    return act(request, draft, lambda: drafting.reopen(draft, request.user), "The draft is open for editing. Any approval it had no longer applies.")


@require_POST
def withdraw_draft(request, pk):
    draft = visible_draft(request, pk)
    return act(request, draft, lambda: drafting.withdraw(draft, request.user), "The draft was withdrawn.")
