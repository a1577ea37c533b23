"""The headteacher's pages: channels and their risk assessments, reviews due, the audit trail.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.school import audit
from config.school.models import AuditEntry, AuditSeal
from config.school.roles import HEADTEACHER, has_role
from connectors.models import Channel, Connection, QuotaDay
from moderation.gates import pipeline
from moderation.reviews import services as reviews
from moderation.reviews.forms import ChannelForm, PolicyReviewForm, RiskAssessmentForm
from moderation.views import message_for


def channel_list(request):
    channels = [(c, pipeline.channel_problems(c)) for c in Channel.objects.all()]
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
        "problems": pipeline.channel_problems(channel),
        "assessment": channel.current_risk_assessment,
        "expires": channel.current_risk_assessment.expires_at(channel.school.risk_assessment_months) if channel.current_risk_assessment else None,
        "history": channel.audit_entries.select_related("actor")[:50],
        "now": timezone.now(),
    })


@permission_required("connectors.manage_channel", raise_exception=True)
def channel_edit(request, pk=None):
    channel = get_object_or_404(Channel, pk=pk) if pk else Channel()
    form = ChannelForm(request.POST or None, instance=channel, allow_unlisted=request.school.allow_youtube_unlisted)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        login_holders, authors = data.pop("login_holders"), data.pop("authors")
        if channel.pk:
            data.pop("kind", None)
        else:
            channel.kind = data.pop("kind")
        try:
            reviews.update_channel(channel, request.user, login_holders=login_holders, authors=authors, **data)
        except ValidationError as error:
            messages.error(request, message_for(error))
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
        reviews.approve_risk_assessment(channel, request.user, summary=form.cleaned_data["summary"], document_reference=form.cleaned_data["document_reference"])
        messages.success(request, f"Risk assessment of '{channel}' approved for 12 months.")
        return redirect("channel", pk=pk)
    return render(request, "moderation/risk_assessment_form.html", {"form": form, "channel": channel})


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


def review_list(request):
    if not (request.user.has_perm("connectors.manage_channel") or request.user.has_perm("moderation.view_publication_log")):
        raise PermissionDenied("Only leadership staff see the annual reviews.")
    form = PolicyReviewForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            try:
                reviews.record_policy_review(request.user, **form.cleaned_data)
            except (ValidationError, PermissionDenied) as error:
                messages.error(request, message_for(error))
            else:
                messages.success(request, "The policy's review is recorded.")
                return redirect("reviews")
    now = timezone.now()
    rows = [(r, r.overdue(now), r.due_soon(now)) for r in reviews.all_reviews()]
    return render(request, "moderation/reviews.html", {
        "rows": rows, "form": form, "latest": reviews.latest_policy_review(),
        "can_record": request.user.has_perm("moderation.add_policyreview"),
    })
