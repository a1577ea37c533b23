"""Thin views for what happens after publishing: reports of concern, takedown, comments of concern
(policy sections 5 and 8)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.school.roles import roles_with
from config.school.tenancy import schools_of, scope
from moderation.aftercare import concerns, monitoring
from moderation.aftercare.addresses import client_address
from moderation.aftercare.forms import ConcernForm, ReasonForm
from moderation.models import (
    Concern,
    PlatformComment,
    PublishedPost,
)
from moderation.publishing import families
from moderation.publishing.mirror import mirrored_posts, on_news_page
from moderation.views import message_for


@permission_required("moderation.view_publication_log", raise_exception=True)
def takedown_list(request):
    return render(request, "moderation/takedown.html", {"rows": concerns.posts_to_take_down()})


def _sender_address(request) -> str:
    return client_address(request)  # behind a trusted proxy, the address it forwards


def _report(request, post, *, by, template, done, context=None):
    form = ConcernForm(request.POST or None)
    context = {"form": form, "post": post, **(context or {})}
    if request.method == "POST" and form.is_valid():
        try:
            concerns.report(post, by=by, sender_address=_sender_address(request), **form.cleaned_data)
        except concerns.TooManyReports as error:
            return render(request, template, {**context, "refused": str(error)}, status=429)
        except ValidationError as error:
            form.add_error(None, message_for(error))
        else:
            return done()
    return render(request, template, context)


@login_not_required
@on_news_page
def mirror_concern(request, pk):
    """Anyone, without an account: CSRF-protected, rate-limited, nothing personal required."""
    post = get_object_or_404(mirrored_posts(), pk=pk)
    return _report(
        request, post, by=None, template="mirror/concern.html",
        done=lambda: render(request, "mirror/concern_sent.html", {"post": post}),
    )


@login_not_required
@families.behind_the_code
def families_concern(request, code, pk):
    """A concern about a post on the families' page: the same report, behind the same code."""
    post = get_object_or_404(families.families_posts(), pk=pk)
    context = {"families_code": code}
    return families.private(_report(
        request, post, by=None, template="mirror/concern.html", context=context,
        done=lambda: render(request, "mirror/concern_sent.html", {"post": post, **context}),
    ))


def concerns_in_my_schools(request):
    """A trust's safeguarding lead, DSL in several schools, sees their open concerns together,
    each labelled with its school; acting on one means working in its school."""
    schools = schools_of(request.user, *roles_with("moderation.handle_concern"))
    if not schools:
        raise PermissionDenied("Only the DSL and the headteacher see concerns.")
    with scope(school=[s.pk for s in schools]):
        open_concerns = list(Concern.objects.filter(status=Concern.Status.OPEN).select_related("school", "post__channel").order_by("-reported_at")[:500])
        comments = list(PlatformComment.objects.filter(status=PlatformComment.Status.CONCERN)
                        .select_related("post__channel__school").order_by("-read_at")[:500])
    return render(request, "moderation/concerns_in_my_schools.html", {
        "schools": schools, "open": open_concerns, "comments": comments,
    })


def staff_concern(request, pk):
    post = get_object_or_404(PublishedPost.objects.select_related("channel", "draft"), pk=pk)

    def done():
        messages.success(request, "Thank you: the DSL and the headteacher have been told.")
        if request.user.has_perm("moderation.view_publication_log"):
            return redirect("log_entry", pk=pk)
        return redirect("home")

    return _report(request, post, by=request.user, template="moderation/concern_form.html", done=done)


@permission_required("moderation.handle_concern", raise_exception=True)
def concern_list(request):
    return render(request, "moderation/concerns.html", {
        "open": Concern.objects.filter(status=Concern.Status.OPEN).select_related("post__channel"),
        "flood": list(concerns.flood()[:500]),
        "closed": Concern.objects.filter(status=Concern.Status.CLOSED).select_related("post__channel", "closed_by")[:100],
        "comments": PlatformComment.objects.filter(status=PlatformComment.Status.CONCERN).select_related("post__channel"),
    })


@require_POST
@permission_required("moderation.handle_concern", raise_exception=True)
def concern_flood_close(request):
    keep = [int(v) for v in request.POST.getlist("keep") if v.isdigit()]
    try:
        closed = concerns.close_flood(request.user, request.POST.get("outcome", ""), keep=keep)
    except ValidationError as error:
        messages.error(request, message_for(error))
    else:
        messages.success(request, f"{closed} report{'s' if closed != 1 else ''} of the flood closed" + (f"; {len(keep)} kept open." if keep else "."))
    return redirect("concerns")


@permission_required("moderation.handle_concern", raise_exception=True)
def concern_detail(request, pk):
    concern = get_object_or_404(Concern.objects.select_related("post__channel", "post__draft", "reported_by"), pk=pk)
    return render(request, "moderation/concern_detail.html", {
        "concern": concern, "post": concern.post, "notes": concern.notes.select_related("written_by"),
        "takedown_form": ReasonForm(prefix="takedown", label="Why it is taken down"),
        "note_form": ReasonForm(prefix="note", label="Follow-up", help_text="What was done, who was told, lessons learnt."),
        "close_form": ReasonForm(prefix="close", label="How it was resolved"),
    })


def _act(request, action, success):
    try:
        result = action()
    except (ValidationError, PermissionDenied) as error:
        messages.error(request, message_for(error))
    else:
        messages.success(request, result if isinstance(result, str) else success)


# What each button on a concern's page does: (the form field it reads, the service, the message).
CONCERN_ACTIONS = {
    "take_down": ("takedown-text", lambda concern, by, text: concerns.take_down(concern.post, by, text, concern), ""),
    "follow_up": ("note-text", concerns.add_note, "Follow-up recorded."),
    "close": ("close-text", concerns.close, "Concern closed."),
}


@require_POST
@permission_required("moderation.handle_concern", raise_exception=True)
def concern_action(request, pk, action):
    concern = get_object_or_404(Concern, pk=pk)
    field, service, success = CONCERN_ACTIONS[action]
    _act(request, lambda: service(concern, request.user, request.POST.get(field, "")), success)
    return redirect("concern", pk=pk)


@require_POST
@permission_required("moderation.handle_concern", raise_exception=True)
def post_take_down(request, pk):
    post = get_object_or_404(PublishedPost, pk=pk)
    _act(request, lambda: concerns.take_down(post, request.user, request.POST.get("takedown-text", "")), "")
    return redirect("log_entry", pk=pk)


@require_POST
@permission_required("moderation.handle_concern", raise_exception=True)
def comment_dealt_with(request, pk):
    comment = get_object_or_404(PlatformComment, pk=pk)
    _act(request, lambda: monitoring.deal_with(comment, request.user, request.POST.get("note", "")), "Marked as dealt with.")
    return redirect("concerns")
