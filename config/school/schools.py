"""Adding a school to the installation, with its first headteacher: what `add_school` and the
trust administrator's page both do."""

import os

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from config.school.models import AuditEntry, School
from config.school.people import display_name
from config.school.roles import HEADTEACHER, TRUST_ADMINISTRATOR, give_role
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
