"""The school's own configuration, read from the environment with safe defaults.

Everything a school changes without touching code lives here: its name, the email
domains it owns, whether YouTube `unlisted` is allowed, the Acceptable Use Policy version.
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

    @property
    def own_address_parts(self) -> tuple[str, ...]:
        parts = [p.strip() for p in self.address.split(",") if p.strip()]
        return tuple(parts + ([self.address.strip()] if parts else []))

    @property
    def own_contact_details(self) -> tuple[str, ...]:
        """Everything of the school's own that a post may give: its address, phones and emails."""
        return self.own_address_parts + self.phones + self.emails


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
