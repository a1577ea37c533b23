"""Publishing and the publication log: publish now, the published copies, the log and its export.
"""

import csv

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from config.school.people import display_name
from moderation.models import PublishedPost
from moderation.publishing import services as publishing
from moderation.publishing.forms import PublishedPostFilter
from moderation.publishing.mirror import media_response
from moderation.views import act, message_for, visible_draft


def published_media(request, pk, position):
    """What went out, for the people who may read the draft: the published copy, kept after a takedown too."""
    draft = visible_draft(request, pk)
    post = get_object_or_404(PublishedPost, draft=draft)
    return media_response(post, position)


@require_POST
def publish_draft(request, pk):
    draft = visible_draft(request, pk)
    return act(request, draft, lambda: publishing.publish(draft, request.user), "Published. It is in the log and on the school's news page.")


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
            display_name(post.draft.author), display_name(post.approved_by), display_name(post.published_by),
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
        messages.error(request, message_for(error))
    return redirect("log_entry", pk=pk)
