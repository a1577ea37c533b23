"""The staff home page, and what every page shares: thin views read forms, call the services and
show the result.
"""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError
from django.db import connection as db_connection
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from config.school.schools import is_trust_administrator
from connectors.models import Channel, Connection
from moderation.accounts import services as accounts
from moderation.aftercare import concerns
from moderation.drafts.media import MediaRejected
from moderation.gates import pipeline
from moderation.models import (
    Concern,
    Draft,
    IllegalTransition,
    PlatformComment,
    PublishedPost,
)
from moderation.publishing import services as publishing
from moderation.reviews import services as reviews


def message_for(error) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    return str(error)


def act(request, draft, action, success):
    """Run a service call for a draft; show its refusal as a message instead of an error page."""
    try:
        action()
    except publishing.PublishWaiting as error:
        messages.warning(request, str(error))
    except (ValidationError, publishing.PublishRefused, MediaRejected, IllegalTransition) as error:
        messages.error(request, message_for(error))
    except accounts.AUPNotAccepted:
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


def form_errors(form) -> str:
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
    if request.school is None:
        # No role in any school (a trust administrator, or someone whose roles were all removed).
        return render(request, "moderation/no_school.html", {"is_trust_administrator": is_trust_administrator(user)})
    context = {
        "my_drafts": Draft.objects.filter(author=user).exclude(status__in=[Draft.Status.PUBLISHED, Draft.Status.WITHDRAWN]).select_related("channel")[:20],
        "queue_count": Draft.objects.filter(status=Draft.Status.AWAITING_APPROVAL).exclude(author=user).count()
        if user.has_perm("moderation.approve_draft") else None,
        "to_publish": _ready_to_publish(user),
        "blocked_channels": [(c, pipeline.channel_problems(c)) for c in Channel.objects.filter(active=True)],
        "aup_accepted": accounts.has_accepted_aup(user),
        "recent": PublishedPost.objects.select_related("channel")[:5],
        "takedown_count": len(concerns.posts_to_take_down()) if user.has_perm("moderation.view_publication_log") else 0,
        "reconnect_needed": _channels_to_reconnect() if user.has_perm("moderation.view_publication_log") else [],
        "open_concerns": Concern.objects.filter(status=Concern.Status.OPEN).count() if user.has_perm("moderation.handle_concern") else 0,
        "comments_of_concern": PlatformComment.objects.filter(status=PlatformComment.Status.CONCERN).count()
        if user.has_perm("moderation.handle_concern") else 0,
        "reviews_due": _reviews_due() if user.has_perm("connectors.manage_channel") else [],
    }
    context["blocked_channels"] = [(c, p) for c, p in context["blocked_channels"] if p]
    return render(request, "moderation/home.html", context)


def authors_draft(request, pk) -> Draft:
    """A draft only its author may change: refused before any form is read."""
    draft = visible_draft(request, pk)
    if request.user.pk != draft.author_id:
        raise PermissionDenied("Only the draft's author can change it.")
    return draft


def visible_draft(request, pk) -> Draft:
    draft = get_object_or_404(Draft.objects.select_related("channel", "author"), pk=pk)
    user = request.user
    if not (user.pk == draft.author_id or user.has_perm("moderation.approve_draft") or user.has_perm("moderation.view_publication_log")):
        raise PermissionDenied("You cannot see this draft.")
    return draft


PAGE_SIZE = 50


def page_of(request, queryset):
    """One page of a long list (oldest first in the queue), so the page stays fast with thousands of drafts."""
    from django.core.paginator import Paginator

    return Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
