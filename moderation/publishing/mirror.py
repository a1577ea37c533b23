"""The inclusive mirror: every public post on the school's own page and Atom feed, without a login.

Only posts that anyone can see on the platform are here. Posts of a channel that is not public
(a private YouTube channel) are on the families' page instead (`families.py`)."""

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from moderation.models import PublishedPost


def mirrored_posts():
    # A post taken down (policy section 8) leaves the news page and the feed at once.
    return PublishedPost.objects.filter(taken_down_at__isnull=True, for_families_only=False).select_related("channel").prefetch_related("media")


@login_not_required
def mirror_index(request):
    return render(request, "mirror/index.html", {"posts": mirrored_posts()[:50]})


@login_not_required
def mirror_post(request, pk):
    return render(request, "mirror/post.html", {"post": get_object_or_404(mirrored_posts(), pk=pk)})


@login_not_required
def mirror_media(request, pk, position):
    return media_response(get_object_or_404(mirrored_posts(), pk=pk), position)


def media_response(post, position):
    """The published copy of one of a post's photos or videos."""
    media = get_object_or_404(post.media, position=position)
    path = (settings.PUBLISHED_DIR / media.stored_name).resolve()
    if settings.PUBLISHED_DIR.resolve() not in path.parents:
        raise Http404()
    try:
        return FileResponse(open(path, "rb"), content_type=media.content_type)
    except OSError:
        raise Http404("The published copy is missing.")


class MirrorFeed(Feed):
    feed_type = Atom1Feed
    description_template = "mirror/feed_item.html"

    def title(self):
        return f"{settings.SCHOOL.name}: news"

    def subtitle(self):
        return f"Everything {settings.SCHOOL.name} posts on its official social media, for those who do not use it."

    def link(self):
        return reverse("mirror")

    def items(self):
        return mirrored_posts()[:50]

    def item_title(self, post):
        return post.title or (post.text.strip().splitlines()[0][:80] if post.text.strip() else post.link) or f"{post.channel.get_kind_display()} post"

    def item_link(self, post):
        return reverse("mirror_post", args=[post.pk])

    def item_pubdate(self, post):
        return post.published_at

    def item_updateddate(self, post):
        return post.published_at
