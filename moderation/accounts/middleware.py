"""A second factor before anything else, for the roles that approve, publish, take down posts or
see the consent register (roles.SECOND_FACTOR)."""

from urllib.parse import urlencode

from django.shortcuts import redirect
from django.urls import reverse

from config.school.roles import SECOND_FACTOR
from config.school.tenancy import schools_of

# Pages a signed-in person may reach before giving the second factor.
OPEN = {"second_factor", "logout", "login", "mirror", "mirror_feed", "mirror_post", "mirror_media", "mirror_concern",
        "schools", "school_mirror", "school_mirror_feed", "school_mirror_post", "school_mirror_media", "school_mirror_concern"}


def needs_second_factor(user) -> bool:
    """Whether this person holds such a role in any of their schools, or across the installation."""
    return user.is_authenticated and (
        bool(schools_of(user, *SECOND_FACTOR)) or user.groups.filter(name__in=SECOND_FACTOR).exists())


class SecondFactorRequiredMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view, args, kwargs):
        user = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        match = request.resolver_match
        if match is None or match.url_name in OPEN:
            return None
        if not needs_second_factor(user):
            return None
        return redirect(f"{reverse('second_factor')}?{urlencode({'next': request.get_full_path()})}")
