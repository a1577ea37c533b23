"""The inclusive mirror: every public post on the school's own page and Atom feed, without a login.

Each school's news page has its own address, /schools/<slug>/news/. On an installation of one
school, /mirror/ is that school's page too (as it was before there could be several).

Only posts that anyone can see on the platform are here. Posts of a channel that is not public
(a private YouTube channel) are on the families' page instead (`families.py`)."""

import functools

from django.contrib.auth.decorators import login_not_required
from django.contrib.syndication.views import Feed
from django.core.exceptions import SuspiciousFileOperation
from django.http import FileResponse, Http404, HttpResponsePermanentRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from config.school.models import School
from config.school.tenancy import in_school, scopes_disabled
from moderation.models import PublishedPost

ON_THE_NEWS_PAGE = {"taken_down_at__isnull": True, "for_families_only": False}


def mirrored_posts():
    # A post taken down (policy section 8) leaves the news page and the feed at once.
    return PublishedPost.objects.filter(**ON_THE_NEWS_PAGE).select_related("channel__school").prefetch_related("media")


def news_school(request, slug: str | None) -> School | None:
    """The school whose news page this is: named in the address; else the signed-in person's
    school; else the installation's only school. None: which school is not known."""
    if slug:
        return get_object_or_404(School, slug=slug)
    if getattr(request, "school", None) is not None:
        return request.school
    schools = list(School.objects.all()[:2])
    return schools[0] if len(schools) == 1 else None


def moved_to_its_school(request, pk=None):
    """/mirror/… on an installation of several schools: the address of the same page at its
    school's own address, for good (301). The /mirror/ addresses were the first school's (the only
    one there was): a post's own school is looked up outside any scope, and only a post on a news
    page is redirected, so that the address says nothing of any other post."""
    if pk is None:
        school = School.objects.order_by("pk").first()
    else:
        with scopes_disabled():  # and the database's wall open (config/school/wall.py)
            public = PublishedPost.objects.filter(pk=pk, **ON_THE_NEWS_PAGE)
            school = School.objects.filter(pk__in=public.values("channel__school")).first()
    if school is None:
        raise Http404("There is no such post on any school's news page.")
    address = f"/schools/{school.slug}/news/" + request.path.removeprefix("/mirror/")
    return HttpResponsePermanentRedirect(address + (f"?{request.META['QUERY_STRING']}" if request.META.get("QUERY_STRING") else ""))


def on_news_page(view):
    """The view works in the scope of the school whose news page it shows, whoever asks."""
    @functools.wraps(view)
    def wrapped(request, *args, school=None, **kwargs):
        found = news_school(request, school)
        if found is None:
            return moved_to_its_school(request, kwargs.get("pk"))
        request.school = found
        with in_school(found):
            return view(request, *args, **kwargs)
    return wrapped


@login_not_required
def school_list(request):
    """Every school's news page: what a visitor to an installation of several schools chooses from."""
    return render(request, "mirror/schools.html", {"schools": School.objects.order_by("name")})


@login_not_required
@on_news_page
def mirror_index(request):
    return render(request, "mirror/index.html", {"posts": mirrored_posts()[:50]})


@login_not_required
@on_news_page
def mirror_post(request, pk):
    return render(request, "mirror/post.html", {"post": get_object_or_404(mirrored_posts(), pk=pk)})


@login_not_required
@on_news_page
def mirror_media(request, pk, position):
    return media_response(get_object_or_404(mirrored_posts(), pk=pk), position)


def media_response(post, position):
    """The published copy of one of a post's photos or videos."""
    media = get_object_or_404(post.media, position=position)
    try:
        return FileResponse(open(media.path, "rb"), content_type=media.content_type)
    except (OSError, SuspiciousFileOperation):  # missing, the file storage out of reach, or a name outside it
        raise Http404("The published copy is missing.")


class MirrorFeed(Feed):
    """A school's news as an Atom feed (its object is the school, which on_news_page finds)."""

    feed_type = Atom1Feed
    description_template = "mirror/feed_item.html"

    def get_object(self, request, *args, **kwargs):
        return request.school

    def title(self, school):
        return f"{school.name}: news"

    def subtitle(self, school):
        return f"Everything {school.name} posts on its official social media, for those who do not use it."

    def link(self, school):
        return reverse("school_mirror", args=[school.slug])

    def items(self, school):
        return mirrored_posts()[:50]

    def item_title(self, post):
        return post.title or (post.text.strip().splitlines()[0][:80] if post.text.strip() else post.link) or f"{post.channel.get_kind_display()} post"

    def item_link(self, post):
        return reverse("school_mirror_post", args=[post.channel.school.slug, post.pk])

    def item_pubdate(self, post):
        return post.published_at

    def item_updateddate(self, post):
        return post.published_at


# The feed at both addresses, in the scope of its school like the news page.
mirror_feed = login_not_required(on_news_page(MirrorFeed()))
