"""Which school's data a piece of work may see.

Every model that holds a school's data has a scoped manager (django-scopes): its queries are
filtered to the school in scope, and a query made with no school in scope raises ScopeError
rather than return every school's rows. A request is in the scope of the school its user works
in (config/school/middleware.py); a task or a worker's round enters the scope of the school it
works for; a management command, of the school given with --school (or the only one).
"""

import functools
import logging
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.text import slugify
from django_scopes import scope, scopes_disabled

from config.school.models import Membership, School
from config.school.scoping import current_school_id

logger = logging.getLogger(__name__)

__all__ = ["scope", "scopes_disabled", "in_school", "nowhere", "current_school", "current_school_id",
           "first_school", "schools_of", "roles_in", "people",
           "in_school_of", "in_its_school", "for_each_school"]


class NoSchool(PermissionDenied):
    """Work that needs one school ran with none (or several) in scope: refused (403 on a page)."""


def id_of(school) -> int | None:
    """A school given as a School or as its id, as its id."""
    return school.pk if isinstance(school, School) else school


@contextmanager
def in_school(school):
    """Everything inside sees only this school's data (and acts with its roles)."""
    if school is None:  # django-scopes reads None as "every school": never here
        raise NoSchool("No school was given, so nothing was done.")
    with scope(school=id_of(school)):
        yield


@contextmanager
def nowhere():
    """Everything inside sees no school's data: what a visitor who is not signed in starts with."""
    with scope(school=[]):
        yield


def current_school() -> School:
    school_id = current_school_id()
    if school_id is None:
        raise NoSchool("This needs one school, and none is chosen: nothing was done.")
    return School.objects.get(pk=school_id)


def first_school() -> School:
    """The installation's first school, made from the SCHOOL_* settings when there is none yet:
    a single school's installation needs no step to have its school."""
    with transaction.atomic():
        school = School.objects.order_by("pk").first()
        if school is None:
            school = School.objects.create(**defaults_from_settings())
    return school


def defaults_from_settings() -> dict:
    configured = settings.SCHOOL
    return {
        "name": configured.name, "slug": slugify(configured.name)[:60] or "school",
        "email_domains": list(configured.email_domains), "allow_youtube_unlisted": configured.allow_youtube_unlisted,
        "aup_version": configured.aup_version, "aup_url": configured.aup_url,
        "risk_assessment_months": configured.risk_assessment_months, "address": configured.address,
        "youtube_made_for_kids": configured.youtube_made_for_kids,
        "phones": list(configured.phones), "emails": list(configured.emails),
    }


def schools_of(user, *roles) -> list[School]:
    """The schools in which this person holds any of these roles (any role, when none are named)."""
    if not user.is_authenticated:
        return []
    memberships = Membership.objects.filter(user=user)
    if roles:
        memberships = memberships.filter(role__name__in=roles)
    return list(School.objects.filter(pk__in=memberships.values("school")).order_by("name", "pk"))


def roles_in(user, school) -> set[str]:
    if not user.is_authenticated or school is None:
        return set()
    return set(Membership.objects.filter(user=user, school_id=id_of(school)).values_list("role__name", flat=True))


def people(*roles, school=None):
    """The people holding any of these roles (any role, when none are named) in the school (by
    default, the one in scope): never anyone of another school. No school, nobody."""
    school_id = id_of(school) if school is not None else current_school_id()
    User = get_user_model()
    if school_id is None:
        return User.objects.none()
    memberships = Membership.objects.filter(school_id=school_id)
    if roles:
        memberships = memberships.filter(role__name__in=roles)
    return User.objects.filter(pk__in=memberships.values("user"))


def school_id_of_row(model, pk) -> int | None:
    """The school a row belongs to, looked up outside any scope (None when the row is gone)."""
    with scopes_disabled():  # and the database's wall open (config/school/wall.py)
        return model.objects.filter(pk=pk).values_list(model.objects.school_path, flat=True).first()


@contextmanager
def in_school_of(model, pk):
    """Inside, the scope of the school this row belongs to; no school's, when it is gone."""
    school_id = school_id_of_row(model, pk)
    with in_school(school_id) if school_id is not None else nowhere():
        yield


def in_its_school(model):
    """For work given a row's id (a task): it runs in the scope of that row's school."""
    def decorate(function):
        @functools.wraps(function)
        def wrapped(pk, *args, **kwargs):
            with in_school_of(model, pk):
                return function(pk, *args, **kwargs)
        return wrapped
    return decorate


def for_each_school(work, *args, **kwargs) -> list:
    """A worker's round: the same work for every school, each in its own scope. One school's
    failure does not stop the others' round; the first failure is raised once all have run."""
    results, first_error = [], None
    for school_id in School.objects.order_by("pk").values_list("pk", flat=True):
        with in_school(school_id):
            try:
                results.append(work(*args, **kwargs))
            except Exception as error:  # noqa: BLE001 - the other schools' round still runs
                logger.exception("%s failed for school %s", getattr(work, "__name__", work), school_id)
                first_error = first_error or error
    if first_error is not None:
        raise first_error
    return results
