"""Column profiles: which column of an MIS export holds each field of the register.

A profile maps each of our fields to the column heading in the school's export. The default
profile is in settings.REGISTER_PROFILES; a school adds its own without changing code, in a JSON
file named by the environment variable REGISTER_PROFILES_FILE, for example:

    {"arbor": {"upn": "UPN", "legal_forename": "Legal First Name", ..., "consent_reference": "Form ID"}}

Every field in REQUIRED_FIELDS must be mapped; the OPTIONAL_FIELDS may be. Headings are matched
ignoring case and spaces at either end; the order of the columns does not matter.
"""

import json
from pathlib import Path

from django.conf import settings

DEFAULT = "default"

# our field: what it holds, in words
REQUIRED_FIELDS = {
    "upn": "the pupil's Unique Pupil Number",
    "legal_forename": "legal forename",
    "legal_surname": "legal surname",
    "preferred_forename": "preferred forename (may be empty)",
    "year_group": "year group: 4 or Year 4, R or Reception, N or Nursery (kept as Year 4, Reception, Nursery)",
    "facebook_consent": "written consent to photos on Facebook: Yes or No",
    "youtube_consent": "written consent to photos on YouTube: Yes or No",
    "consent_date": "date of the written consent form",
    "consent_expires": "date the consent ends (empty: it does not expire)",
    "biometric_consent": "written parental consent to biometric processing: Yes or No",
    "objects_to_biometrics": "the pupil objects to biometric processing: Yes or No",
}
OPTIONAL_FIELDS = {
    "consent_reference": "reference of the written photo consent form",
    "biometric_reference": "reference of the written biometric consent form",
}


class ProfileError(Exception):
    """A profile is unknown or badly written. The message says what to fix."""


def available() -> dict[str, dict[str, str]]:
    """Every profile by name: the settings' own, then those in REGISTER_PROFILES_FILE."""
    profiles = {}
    for name, mapping in settings.REGISTER_PROFILES.items():
        profiles[name] = _checked(name, mapping, "REGISTER_PROFILES")
    path = getattr(settings, "REGISTER_PROFILES_FILE", "")
    if path:
        for name, mapping in _read_file(Path(path)).items():
            if name in profiles:
                raise ProfileError(f"The profile file {path} defines '{name}', which already exists: give it another name.")
            profiles[name] = _checked(name, mapping, path)
    return profiles


def get(name: str) -> dict[str, str]:
    profiles = available()
    if name not in profiles:
        raise ProfileError(f"There is no column profile called '{name}'. The profiles are: {', '.join(sorted(profiles))}.")
    return profiles[name]


def _read_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ProfileError(f"The profile file {path} (REGISTER_PROFILES_FILE) does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProfileError(f"The profile file {path} (REGISTER_PROFILES_FILE) cannot be read: {error}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"The profile file {path} must hold an object of profile name: column headings.")
    return data


def _checked(name, mapping, where) -> dict[str, str]:
    if not isinstance(name, str) or not name.strip():
        raise ProfileError(f"A profile in {where} has no name.")
    if not isinstance(mapping, dict):
        raise ProfileError(f"Profile '{name}' in {where} must map each field to a column heading.")
    unknown = sorted(set(mapping) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS))
    if unknown:
        raise ProfileError(f"Profile '{name}' in {where} has unknown fields: {', '.join(unknown)}.")
    missing = [field for field in REQUIRED_FIELDS if field not in mapping]
    if missing:
        raise ProfileError(f"Profile '{name}' in {where} does not say which column holds: {', '.join(missing)}.")
    seen = {}
    for field, heading in mapping.items():
        if not isinstance(heading, str) or not heading.strip():
            raise ProfileError(f"Profile '{name}' in {where}: the column heading for {field} is empty.")
        key = heading.strip().casefold()
        if key in seen:
            raise ProfileError(f"Profile '{name}' in {where} uses the column '{heading}' for both {seen[key]} and {field}.")
        seen[key] = field
    return {field: heading.strip() for field, heading in mapping.items()}
