"""The families' page: posts of channels that are not public, for the school's families only.

The news page (`mirror.py`) is for everyone, so a private YouTube channel's videos must not be
there. They are here instead, behind an access code the headteacher issues: the link
`/families/<code>/` or the code typed at `/families/`. Only the newest code opens anything;
issuing a new one ends every old link at once. The pages say nothing of a wrong code except
that it does not open the page, and ask browsers and search engines to keep nothing.
"""

import functools
import secrets

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from config.school.models import AuditEntry
from config.school.people import display_name
from config.school.tenancy import in_school, scopes_disabled
from moderation.models import FamiliesAccess, PublishedPost
from moderation.publishing.mirror import MirrorFeed, media_response

# Letters and digits that cannot be mistaken for each other when read aloud or typed from paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_GROUPS, CODE_GROUP_LENGTH = 4, 4  # 16 characters: about 79 bits


def new_code() -> str:
    groups = ("".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_GROUP_LENGTH)) for _ in range(CODE_GROUPS))
    return "-".join(groups)


def normalise(code: str) -> str:
    """The code as issued, from what someone typed (any case, spaces or dashes anywhere)."""
    letters = "".join(c for c in code.upper() if c.isalnum())
    return "-".join(letters[i:i + CODE_GROUP_LENGTH] for i in range(0, len(letters), CODE_GROUP_LENGTH))


def current() -> FamiliesAccess | None:
    return FamiliesAccess.objects.first()


def school_opened_by(code: str):
    """The school whose families' page this code opens now (only a school's newest code does), or None.

    Looked up outside any school's scope: the code is what says which school it is."""
    with scopes_disabled():  # and the database's wall open (config/school/wall.py)
        access = FamiliesAccess.objects.filter(code=normalise(code)).select_related("school").first()
        if access is None or FamiliesAccess.objects.filter(school=access.school_id).values_list("pk", flat=True).first() != access.pk:
            return None
        return access.school


def opens(code: str) -> bool:
    """Whether this code opens a families' page now."""
    return school_opened_by(code) is not None


def behind_the_code(view):
    """A families' page: it works in the scope of the school whose current code is in the address."""
    @functools.wraps(view)
    def wrapped(request, code, *args, **kwargs):
        school = school_opened_by(code)
        if school is None:
            raise Http404("This link or code does not open the families' page. Ask the school office for the current one.")
        request.school = school
        with in_school(school):
            return view(request, normalise(code), *args, **kwargs)
    return wrapped


def issue(by) -> FamiliesAccess:
    """A new code; every earlier link stops working at once. The code itself is not logged."""
    if not by.has_perm("connectors.approve_channel"):
        raise PermissionDenied("Only the headteacher issues the families' access code.")
    with transaction.atomic():
        replaced = current() is not None
        access = FamiliesAccess.objects.create(code=new_code(), issued_by=by)
        AuditEntry.objects.create(
            actor=by, action="families.code_issued",
            summary=f"{display_name(by)} issued a new families' access code" + ("; every earlier link stopped working" if replaced else ""),
        )
    return access


def families_posts():
    # A post taken down (policy section 8) leaves this page at once, as it leaves the news page.
    return PublishedPost.objects.filter(for_families_only=True, taken_down_at__isnull=True).select_related("channel").prefetch_related("media")


def private(response):
    # The code is in the address: no caching, no search engines, no Referer to other sites.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- Views -------------------------------------------------------------------------------------


class CodeForm(forms.Form):
    code = forms.CharField(label="Access code", max_length=40, help_text="As printed in the school's letter, for example ABCD-EFGH-JKMN-PQRS.")


@login_not_required
def families_enter(request):
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if opens(form.cleaned_data["code"]):
            return redirect("families", code=normalise(form.cleaned_data["code"]))
        form.add_error("code", "This code does not open the families' page (it may have been changed). Ask the school office for the current one.")
    return private(render(request, "families/enter.html", {"form": form}))


@login_not_required
@behind_the_code
def families_index(request, code):
    return private(render(request, "families/index.html", {"posts": families_posts()[:50], "families_code": code}))


@login_not_required
@behind_the_code
def families_post(request, code, pk):
    post = get_object_or_404(families_posts(), pk=pk)
    return private(render(request, "families/post.html", {"post": post, "families_code": code}))


@login_not_required
@behind_the_code
def families_media(request, code, pk, position):
    post = get_object_or_404(families_posts(), pk=pk)
    return private(media_response(post, position))


class FamiliesFeed(MirrorFeed):
    """The news feed's shape for the families' posts, behind the same code (one instance a
    request: it knows its code)."""

    def __init__(self, code: str):
        super().__init__()
        self.code = code

    def title(self, school):
        return f"{school.name}: for families"

    def subtitle(self, school):
        return f"What {school.name} shares only with its families."

    def link(self, school):
        return reverse("families", args=[self.code])

    def items(self, school):
        return families_posts()[:50]

    def item_link(self, post):
        return reverse("families_post", args=[self.code, post.pk])


@login_not_required
@behind_the_code
def families_feed(request, code):
    return private(FamiliesFeed(code)(request))


@permission_required("connectors.approve_channel", raise_exception=True)
def families_access(request):
    """The headteacher's page: the current link and code, and a new one on request."""
    access = current()
    link = request.build_absolute_uri(reverse("families", args=[access.code])) if access else ""
    return render(request, "families/access.html", {"access": access, "link": link, "posts": families_posts().count()})


@require_POST
@permission_required("connectors.approve_channel", raise_exception=True)
def families_access_issue(request):
    replaced = current() is not None
    issue(request.user)
    messages.success(request, "A new access code is ready." + (" Every earlier link and code has stopped working: send families the new one." if replaced else ""))
    return redirect("families_access")
