"""The first school's configuration, read from the environment (SCHOOL_*) with safe defaults.

The first `migrate` makes the installation's first school from it, and on an installation of one
school every `migrate` copies the variables that are set into that school (schools.py). Each
school's own record is `config.school.models.School`, which everything else reads.
"""

import os
from dataclasses import dataclass


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(name: str, default: str) -> tuple[str, ...]:
    raw = os.environ.get(name, default)
    return tuple(part.strip().lower() for part in raw.split(",") if part.strip())


@dataclass(frozen=True)
class School:
    name: str
    email_domains: tuple[str, ...]
    # Off by default: the policy names a *private* YouTube channel.
    allow_youtube_unlisted: bool
    aup_version: str
    aup_url: str
    # Months a channel's risk assessment stays valid (policy section 7: at least annually).
    risk_assessment_months: int
    # The school's own postal address, comma-separated: posts may give it (it is not personal data).
    address: str = ""
    # YouTube's "made for kids" declaration, sent with every upload (the school decides it once).
    youtube_made_for_kids: bool = False
    # The school office's own phone numbers and email addresses: posts give them, and they are
    # not personal data.
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


def load() -> School:
    return School(
        name=os.environ.get("SCHOOL_NAME", "Aycliffe Community Primary School"),
        email_domains=_list("SCHOOL_EMAIL_DOMAINS", "aycliffe.kent.sch.uk"),
        allow_youtube_unlisted=env_bool("SCHOOL_ALLOW_YOUTUBE_UNLISTED", False),
        aup_version=os.environ.get("SCHOOL_AUP_VERSION", "2026-1"),
        aup_url=os.environ.get("SCHOOL_AUP_URL", ""),
        risk_assessment_months=12,
        address=os.environ.get("SCHOOL_ADDRESS", ""),
        youtube_made_for_kids=env_bool("SCHOOL_YOUTUBE_MADE_FOR_KIDS", False),
        phones=tuple(p.strip() for p in os.environ.get("SCHOOL_PHONES", "").split(",") if p.strip()),
        emails=_list("SCHOOL_EMAILS", ""),
    )
