"""Adding a school to the installation, with its first headteacher: what `add_school` and the
trust administrator's page both do."""

import hashlib
import json
import os
import re

import phonenumbers
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.text import slugify

from config.school.models import AuditEntry, School
from config.school.people import display_name
from config.school.roles import HEADTEACHER, TRUST_ADMINISTRATOR, give_role, has_role
from config.school.tenancy import defaults_from_settings, in_school

COMMAND_LINE = object()  # `add_school`, run by whoever runs the installation


def add_school(*, name: str, slug: str = "", email_domains=(), head_username: str, head_email: str,
               head_first_name: str = "", head_last_name: str = "", head_password: str, by=COMMAND_LINE) -> School:
    """A new school, empty (no channel, no register), and its headteacher, who sets up the rest.
    The school's audit trail starts with its own creation."""
    if by is not COMMAND_LINE and not (by and by.is_active and by.has_perm("school.add_school")):
        raise PermissionDenied("Only a trust administrator adds schools.")
    name, slug = name.strip(), (slug.strip() or slugify(name))[:60]
    head_username, head_email = head_username.strip(), head_email.strip()
    head_first_name, head_last_name = head_first_name.strip(), head_last_name.strip()
    problems = {}
    if not name:
        problems["name"] = "Give the school's name."
    if not slug or slug != slugify(slug):
        problems["slug"] = "The short name is made of lower-case letters, digits and dashes, for example st-marys-primary."
    elif School.objects.filter(slug=slug).exists():
        problems["slug"] = f"Another school already has the short name '{slug}'."
    User = get_user_model()
    if not head_username:
        problems["head_username"] = "Give the headteacher a username."
    elif User.objects.filter(username=head_username).exists():
        problems["head_username"] = f"The username '{head_username}' is taken: each account belongs to one person."
    if not head_email:
        problems["head_email"] = "Give the headteacher's email address: reminders, seals and concerns go to it."
    candidate = User(username=head_username, email=head_email, first_name=head_first_name, last_name=head_last_name)
    try:
        validate_password(head_password, candidate)
    except ValidationError as error:
        problems["head_password"] = " ".join(error.messages)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        school = School.objects.create(name=name, slug=slug, email_domains=[d.strip().lower() for d in email_domains if d.strip()])
        head = User.objects.create_user(head_username, email=head_email, password=head_password,
                                        first_name=head_first_name, last_name=head_last_name)
        give_role(head, school, HEADTEACHER)
        with in_school(school):
            AuditEntry.objects.create(
                actor=None if by is COMMAND_LINE else by, action="school.added",
                summary=f"{school.name} added to the installation " + (
                    "from the command line" if by is COMMAND_LINE else f"by {display_name(by)}, trust administrator")
                + f"; {display_name(head)} is its headteacher",
                data={"school": school.pk, "headteacher": head.pk},
            )
    return school


def is_trust_administrator(user) -> bool:
    return user.is_authenticated and user.groups.filter(name=TRUST_ADMINISTRATOR).exists()


# The SCHOOL_* variables and the school's fields they set.
ENVIRONMENT = {
    "SCHOOL_NAME": "name", "SCHOOL_EMAIL_DOMAINS": "email_domains", "SCHOOL_ALLOW_YOUTUBE_UNLISTED": "allow_youtube_unlisted",
    "SCHOOL_AUP_VERSION": "aup_version", "SCHOOL_AUP_URL": "aup_url", "SCHOOL_ADDRESS": "address",
    "SCHOOL_YOUTUBE_MADE_FOR_KIDS": "youtube_made_for_kids", "SCHOOL_PHONES": "phones", "SCHOOL_EMAILS": "emails",
}


def follow_the_environment(**_kwargs) -> list[str]:
    """An installation of one school keeps being configured by its SCHOOL_* variables: at every
    `migrate` (which `make run` and every deployment run), those that are set update its school.
    With several schools the variables only name the first one's defaults. Returns what changed."""
    schools = list(School.objects.all()[:2])
    if len(schools) != 1:
        return []
    school, wanted = schools[0], defaults_from_settings()
    changed = [field for variable, field in ENVIRONMENT.items() if variable in os.environ and getattr(school, field) != wanted[field]]
    if changed:
        School.objects.filter(pk=school.pk).update(**{field: wanted[field] for field in changed})
    return changed


# What a school's headteacher keeps up to date on its "School details" page (the short name is
# its public address and stays as it was made).
DETAILS = ("name", "email_domains", "address", "phones", "emails", "aup_version", "aup_url", "risk_assessment_months",
           "youtube_made_for_kids", "allow_youtube_unlisted")
DOMAIN = re.compile(r"(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def set_on_the_server(school: School) -> dict[str, str]:
    """The details the server's SCHOOL_* variables set again at every `migrate` (an installation
    of one school: follow_the_environment), by field: changing them on the page would not last."""
    if School.objects.exclude(pk=school.pk).exists():
        return {}
    return {field: variable for variable, field in ENVIRONMENT.items() if variable in os.environ}


def details_seen(school: School) -> str:
    """A fingerprint of the school's details as they are now: a form carries the one it was made
    from, so that a save over someone else's change (or into another school) is refused."""
    values = {"school": school.pk, **{field: getattr(school, field) for field in DETAILS}}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:32]


def change_details(school: School, by, details: dict, seen: str | None = None) -> list[str]:
    """The headteacher corrects the school's own details; returns the fields changed (audited, with
    what each was and became: an address or a domain added loosens the checks). Refuses, changing
    nothing, a detail that is not what it says (a phone number that is none), or a form made
    before someone else's change (`seen`, from details_seen)."""
    if not has_role(by, HEADTEACHER, school=school):
        raise PermissionDenied("Only the school's headteacher changes its details.")
    with transaction.atomic(), in_school(school):
        school = School.objects.select_for_update().get(pk=school.pk)
        if seen is not None and seen != details_seen(school):
            raise ValidationError("The school's details changed since this page was opened (or it was opened for another "
                                  "school). Nothing was saved: look at them again, then save.")
        wanted = {field: value for field, value in details.items() if field in DETAILS and field not in set_on_the_server(school)}
        problems = _detail_problems(wanted)
        if problems:
            raise ValidationError(problems)
        changed = [field for field, value in wanted.items() if getattr(school, field) != value]
        if changed:
            School.objects.filter(pk=school.pk).update(**{field: wanted[field] for field in changed})
            AuditEntry.objects.create(
                actor=by, action="school.details_changed",
                summary=f"{display_name(by)} changed the school's details: " + ", ".join(DETAIL_NAMES[f] for f in changed),
                data={"fields": changed, "before": {f: getattr(school, f) for f in changed}, "after": {f: wanted[f] for f in changed}},
            )
    return changed


DETAIL_NAMES = {
    "name": "name", "email_domains": "email domains", "address": "address", "phones": "phone numbers",
    "emails": "email addresses", "aup_version": "Acceptable Use Policy version", "aup_url": "Acceptable Use Policy address",
    "risk_assessment_months": "months a risk assessment lasts", "youtube_made_for_kids": "YouTube made for kids",
    "allow_youtube_unlisted": "unlisted YouTube videos",
}


def _detail_problems(wanted: dict) -> dict[str, str]:
    problems = {}
    if "name" in wanted and not wanted["name"].strip():
        problems["name"] = "Give the school's name."
    for domain in wanted.get("email_domains", []):
        if not DOMAIN.fullmatch(domain):
            problems["email_domains"] = f"'{domain}' is not an email domain (for example aycliffe.kent.sch.uk)."
    for phone in wanted.get("phones", []):
        try:
            possible = phonenumbers.is_possible_number(phonenumbers.parse(phone, "GB"))
        except phonenumbers.NumberParseException:
            possible = False
        if not possible:
            problems["phones"] = f"'{phone}' is not a phone number."
    for email in wanted.get("emails", []):
        try:
            validate_email(email)
        except ValidationError:
            problems["emails"] = f"'{email}' is not an email address."
    if "aup_version" in wanted and not wanted["aup_version"].strip():
        problems["aup_version"] = "Give the version of the Acceptable Use Policy staff accept (for example 2026-1)."
    months = wanted.get("risk_assessment_months", 12)
    if not 1 <= months <= 12:
        problems["risk_assessment_months"] = "The policy asks for a risk assessment at least every year: 1 to 12 months."
    return problems
