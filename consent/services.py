"""The consent register. Views, the import command and other apps all call these functions.

Permissions are checked here (`consent.keep_register`: the register keeper and the
headteacher). Every consent change writes an audit entry whose data holds the pupil's UPN, so a
pupil's history is `pupil_history(pupil)`: entries name the pupil by record number only.

Changes by hand only ever take consent away (withdraw, object): consent is given through the
MIS export, with the date and reference of the written form.
"""

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from config.school.models import AuditEntry
from config.school.people import display_name, require
from consent import profiles, signals
from consent.models import BiometricConsent, ChannelKind, FaceEncoding, PhotoConsent, Pupil
from consent.register_import import Problem, RegisterRow, Unreadable, decode, parse
from pixels import recognition

PERMISSION = "consent.keep_register"
NOT_A_KEEPER = "Only the register keeper or the headteacher can see or change the consent register."


class _CommandLine:
    """Someone running manage.py on the server: trusted as the register keeper is."""

    def __str__(self):
        return "the command line"


COMMAND_LINE = _CommandLine()


def require_keeper(by, message: str = NOT_A_KEEPER):
    if by is not COMMAND_LINE:
        require(by, PERMISSION, message)


def _actor(by):
    return None if by is None or by is COMMAND_LINE else by


def _who(by) -> str:
    return str(by) if by is COMMAND_LINE else display_name(by)


def _day(value) -> str:
    return value.strftime("%d/%m/%Y") if value else "none"


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime.date) else value


FIELD_WORDS = {
    "legal_forename": "legal forename",
    "legal_surname": "legal surname",
    "preferred_forename": "preferred forename",
    "year_group": "year group",
    "on_roll": "on roll",
    "left_on": "left on",
    "given": "given",
    "given_on": "form dated",
    "expires_on": "expires",
    "withdrawn_on": "withdrawn on",
    "form_reference": "form reference",
    "parent_consent": "parental consent",
    "pupil_objects": "pupil objects",
}


def _shown(value) -> str:
    if isinstance(value, datetime.date):
        return _day(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f'"{value}"' if value else "(empty)"


@dataclass
class Change:
    """One change to one pupil's record, in words, and what its audit entry holds."""

    upn: str
    name: str
    action: str
    words: str
    fields: dict = field(default_factory=dict)  # field: (old, new)
    extra: dict = field(default_factory=dict)

    def __str__(self):
        return f"{self.name} ({self.upn}): {self.words}"

    def write(self, by, pupil: Pupil, **data):
        """The audit entry: the pupil by record number, and names never written into it (they are
        erasable; the audit trail is not)."""
        words = self.words
        if PERSONAL_FIELDS & set(self.fields):
            words = words.split(":", 1)[0] + ": " + _in_words(self.fields, private=True)
        AuditEntry.objects.create(
            actor=_actor(by), action=self.action, summary=f"{pupil.reference}: {words}",
            data={
                "pupil": pupil.pk, **self.extra,
                "changes": {name: "changed" if name in PERSONAL_FIELDS else [_jsonable(old), _jsonable(new)]
                            for name, (old, new) in self.fields.items()},
                **data,
            },
        )


def _differences(current: dict, wanted: dict) -> dict:
    return {name: (current.get(name), value) for name, value in wanted.items() if current.get(name) != value}


# What identifies a pupil: never written into the audit trail.
PERSONAL_FIELDS = {"legal_forename", "legal_surname", "preferred_forename", "upn"}


def _in_words(fields: dict, private: bool = False) -> str:
    return "; ".join(
        f"{FIELD_WORDS.get(name, name)} changed" if private and name in PERSONAL_FIELDS
        else f"{FIELD_WORDS.get(name, name)} {_shown(old)} → {_shown(new)}"
        for name, (old, new) in fields.items()
    )


# --- Erasing face encodings ----------------------------------------------------------------


def erase_encodings(pupil: Pupil, reason: str, by) -> int:
    """Erase every enrolled face of this pupil at once; the audit entry says how many and why, never the encodings.

    Call it whenever biometric consent goes, the pupil objects or leaves. Erasing is always
    allowed, whoever asks (`by` may be None for a scheduled job). Returns how many were erased.
    """
    with transaction.atomic():
        _, per_model = FaceEncoding.objects.filter(pupil=pupil).delete()
        count = per_model.get(FaceEncoding._meta.label, 0)
        if count:
            AuditEntry.objects.create(
                actor=_actor(by), action="faces.erased",
                summary=f"{pupil.reference}: {count} enrolled face{'s' if count != 1 else ''} erased: {reason}",
                data={"pupil": pupil.pk, "count": count, "reason": reason},
            )
    return count


def biometric_refusal(pupil: Pupil) -> str:
    """Why this pupil's face may not be enrolled, or "" when it may."""
    try:
        return pupil.biometric_consent.refusal()
    except BiometricConsent.DoesNotExist:
        if not pupil.on_roll:
            return "The pupil has left the school."
        return "There is no current written parental consent to biometric processing."


# --- Changes by hand -----------------------------------------------------------------------


def withdraw_photo_consent(pupil: Pupil, channel_kind: str, by, note: str = "") -> PhotoConsent:
    require_keeper(by, "Only the register keeper or the headteacher can record a withdrawal of consent.")
    label = ChannelKind(channel_kind).label
    with transaction.atomic():
        consent = PhotoConsent.objects.select_for_update().filter(pupil=pupil, channel_kind=channel_kind).first()
        if consent is None or not consent.given or consent.withdrawn_on:
            raise ValidationError(f"{pupil} has no {label} photo consent to withdraw.")
        today = timezone.localdate()
        change = Change(
            pupil.upn, str(pupil), "consent.photo_withdrawn", f"{label} photo consent withdrawn (it was given on {_day(consent.given_on)})",
            fields={"given": (True, False), "withdrawn_on": (None, today)}, extra={"channel_kind": channel_kind},
        )
        consent.given, consent.withdrawn_on = False, today
        consent.save()
        change.write(by, pupil, source="by hand", note=note.strip())
        photo_consent_lost(pupil, by)
    return consent


def photo_consent_lost(pupil: Pupil, by) -> None:
    """Policy map, consent changes: approved drafts showing the pupil are checked again and held.

    Published posts showing them are listed for takedown on the headteacher's page, worked out
    from the register as it is (moderation.aftercare.concerns.posts_to_take_down).
    """
    signals.photo_consent_lost.send(sender=Pupil, pupil=pupil, by=_actor(by))


def withdraw_biometric_consent(pupil: Pupil, by, note: str = "") -> BiometricConsent:
    require_keeper(by, "Only the register keeper or the headteacher can record a withdrawal of consent.")
    with transaction.atomic():
        consent = BiometricConsent.objects.select_for_update().filter(pupil=pupil).first()
        if consent is None or not consent.parent_consent or consent.withdrawn_on:
            raise ValidationError(f"{pupil} has no parental consent to biometric processing to withdraw.")
        today = timezone.localdate()
        change = Change(
            pupil.upn, str(pupil), "consent.biometric_withdrawn",
            f"parental consent to biometric processing withdrawn (it was given on {_day(consent.given_on)})",
            fields={"parent_consent": (True, False), "withdrawn_on": (None, today)},
        )
        consent.parent_consent, consent.withdrawn_on = False, today
        consent.save()
        change.write(by, pupil, source="by hand", note=note.strip())
        erase_encodings(pupil, "parental consent to biometric processing withdrawn", by)
    return consent


def record_objection(pupil: Pupil, by, note: str = "") -> BiometricConsent:
    """The pupil objects to biometric processing: this overrides any parental consent (PoFA 2012, s. 26)."""
    require_keeper(by, "Only the register keeper or the headteacher can record a pupil's objection.")
    with transaction.atomic():
        consent, _ = BiometricConsent.objects.select_for_update().get_or_create(pupil=pupil)
        if consent.pupil_objects:
            raise ValidationError(f"{pupil}'s objection to biometric processing is already recorded.")
        change = Change(
            pupil.upn, str(pupil), "consent.pupil_objects",
            "objects to biometric processing (this overrides any parental consent)", fields={"pupil_objects": (False, True)},
        )
        consent.pupil_objects = True
        consent.save()
        change.write(by, pupil, source="by hand", note=note.strip())
        erase_encodings(pupil, "the pupil objects to biometric processing", by)
    return consent


# key: (what the form offers, what is said once it is done, the service function)
HAND_CHANGES = {
    "withdraw_facebook": (
        "Withdraw Facebook photo consent", "Facebook photo consent withdrawn.",
        lambda pupil, by, note: withdraw_photo_consent(pupil, ChannelKind.FACEBOOK, by, note),
    ),
    "withdraw_youtube": (
        "Withdraw YouTube photo consent", "YouTube photo consent withdrawn.",
        lambda pupil, by, note: withdraw_photo_consent(pupil, ChannelKind.YOUTUBE, by, note),
    ),
    "withdraw_biometric": (
        "Withdraw parental consent to biometric processing (erases enrolled faces)",
        "Parental consent to biometric processing withdrawn; any enrolled faces were erased.",
        withdraw_biometric_consent,
    ),
    "pupil_objects": (
        "The pupil objects to biometric processing (erases enrolled faces)",
        "The pupil's objection to biometric processing is recorded; any enrolled faces were erased.",
        record_objection,
    ),
    "erase": (
        "Erase this pupil's record: names, UPN, year group and enrolled faces (a pupil who has left, or at the family's request; the note is the reason)",
        "The record is erased: nothing in the product names this pupil any more.",
        lambda pupil, by, note: erase_pupil(pupil, by, note),
    ),
}


def hand_changes_for(pupil: Pupil) -> list[tuple[str, str]]:
    """The changes by hand that apply to this pupil now, as (key, words)."""
    photo = {c.channel_kind: c for c in pupil.photo_consents.all()}
    try:
        biometric = pupil.biometric_consent
    except BiometricConsent.DoesNotExist:
        biometric = None
    applies = {
        "withdraw_facebook": (c := photo.get(ChannelKind.FACEBOOK)) is not None and c.given and not c.withdrawn_on,
        "withdraw_youtube": (c := photo.get(ChannelKind.YOUTUBE)) is not None and c.given and not c.withdrawn_on,
        "withdraw_biometric": biometric is not None and biometric.parent_consent and not biometric.withdrawn_on,
        "pupil_objects": biometric is None or not biometric.pupil_objects,
        "erase": not pupil.erased_at,
    }
    if pupil.erased_at:
        return []
    return [(key, offered) for key, (offered, _, _) in HAND_CHANGES.items() if applies[key]]


def record_hand_change(pupil: Pupil, key: str, by, note: str = "") -> str:
    """Record one change by hand through its service function; return what was done, in words."""
    if key not in HAND_CHANGES:
        raise ValidationError("Choose the change to record.")
    _, done, record = HAND_CHANGES[key]
    record(pupil, by, note)
    return done


# --- Importing the register ----------------------------------------------------------------


class RegisterChanged(Exception):
    """The register changed between the preview and the confirmation: nothing was imported."""

    def __init__(self, report):
        super().__init__("The register changed since the preview, so nothing was imported. Check the new preview and confirm again.")
        self.report = report


@dataclass
class ImportReport:
    """What an import did, or would do, or why it cannot: shared by the command and the page."""

    file_name: str
    profile: str
    partial: bool
    dry_run: bool
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    left: int = 0
    unchanged: int = 0
    imported: bool = False
    text: str = field(default="", repr=False)  # the file's decoded text, kept for the confirmation

    @property
    def rejected(self) -> bool:
        return bool(self.problems)

    @property
    def counts(self) -> dict[str, int]:
        return {"added": self.added, "updated": self.updated, "left": self.left, "unchanged": self.unchanged}

    def counts_in_words(self) -> str:
        return (f"{self.added} added, {self.updated} updated, {self.left} marked as left, "
                f"{self.unchanged} unchanged")

    @property
    def fingerprint(self) -> str:
        """The same changes to the same register give the same fingerprint."""
        payload = [self.partial, [(c.upn, c.action, c.words) for c in self.changes]]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()


@dataclass
class _Plan:
    upn: str
    name: str
    pupil: Pupil | None  # None: a new pupil
    pupil_fields: dict = field(default_factory=dict)
    photo: dict = field(default_factory=dict)  # channel kind: fields to write
    biometric: dict | None = None  # fields to write
    changes: list[Change] = field(default_factory=list)


def clean_file_name(name: str) -> str:
    """The file's own name, for the log and form references only: never used to store anything."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", (name or "").replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return name[:100] or "register.csv"


def import_register(by, data: bytes, *, file_name: str, profile: str = profiles.DEFAULT, partial: bool = False,
                    dry_run: bool = False, expect_fingerprint: str | None = None) -> ImportReport:
    """Import an MIS export of the register, all or nothing.

    Any problem in the file rejects all of it and changes nothing: the report lists every
    problem by row and column. A full import (the default) marks every pupil not in the file as
    left and erases their enrolled faces; a partial one only updates the pupils it lists. With
    dry_run nothing is written and the report says what would change. With expect_fingerprint
    (from a preview), nothing is written if the changes would differ from those previewed.
    Raises profiles.ProfileError for an unknown profile.
    """
    require_keeper(by, "Only the register keeper or the headteacher can import the consent register.")
    mapping = profiles.get(profile)
    report = ImportReport(file_name=clean_file_name(file_name), profile=profile, partial=partial, dry_run=dry_run)
    try:
        report.text = decode(data)
    except Unreadable as error:
        report.problems.append(Problem(None, None, str(error)))
        return report
    today = timezone.localdate()
    rows, problems = parse(report.text, mapping, today=today)
    report.problems.extend(problems)
    if report.problems:
        return report
    if dry_run:
        _plan(report, rows, today, lock=False)
        return report
    with transaction.atomic():
        plans = _plan(report, rows, today, lock=True)
        if expect_fingerprint is not None and report.fingerprint != expect_fingerprint:
            report.dry_run = True
            raise RegisterChanged(report)
        _apply(plans, report, by, data)
        report.imported = True
    return report


def _plan(report: ImportReport, rows: list[RegisterRow], today, *, lock: bool) -> list[_Plan]:
    """Compare the file with the register: what changes for whom, in words. Writes nothing."""
    def query(model):
        return model.objects.select_for_update() if lock else model.objects.all()

    pupils = {p.upn: p for p in query(Pupil).order_by()}
    photo = {(c.pupil_id, c.channel_kind): c for c in query(PhotoConsent).order_by()}
    biometric = {c.pupil_id: c for c in query(BiometricConsent).order_by()}
    faces = dict(FaceEncoding.objects.values_list("pupil_id").annotate(n=Count("id")).order_by())

    plans = []
    for row in rows:
        pupil = pupils.get(row.upn)
        plan = _plan_row(report, row, pupil, photo, biometric, faces.get(pupil.pk, 0) if pupil else 0, today)
        plans.append(plan)
        if pupil is None:
            report.added += 1
        elif plan.changes:
            report.updated += 1
        else:
            report.unchanged += 1
    if not report.partial:
        listed = {row.upn for row in rows}
        for upn, pupil in sorted(pupils.items()):
            if upn in listed:
                continue
            plan = _Plan(upn, str(pupil), pupil)
            if pupil.on_roll:
                plan.pupil_fields = {"on_roll": False, "left_on": today}
                plan.changes.append(Change(upn, plan.name, "register.pupil_left", "marked as left: not in the file",
                                           fields={"on_roll": (True, False), "left_on": (pupil.left_on, today)}))
                report.left += 1
            _plan_erasure(plan, faces.get(pupil.pk, 0), "the pupil has left the school")
            if plan.changes:
                plans.append(plan)
        on_roll = sum(1 for pupil in pupils.values() if pupil.on_roll)
        if report.left and report.left * 4 > on_roll:
            report.warnings.insert(0, (
                f"{report.left} of the {on_roll} pupils on roll are not in this file: a full import marks them as left and "
                f"erases their enrolled faces. If the file lists only some pupils, import it as a partial import instead."
            ))
    for plan in plans:
        report.changes.extend(plan.changes)
    return plans


def _plan_row(report, row: RegisterRow, pupil, photo, biometric, face_count, today) -> _Plan:
    name = f"{row.preferred_forename or row.legal_forename} {row.legal_surname}"
    plan = _Plan(row.upn, name, pupil)
    reference = f"MIS import {report.file_name}, row {row.row}"
    wanted = {
        "legal_forename": row.legal_forename, "legal_surname": row.legal_surname,
        "preferred_forename": row.preferred_forename, "year_group": row.year_group,
    }
    if pupil is None:
        plan.pupil_fields = {**wanted, "on_roll": True, "left_on": None}
        plan.changes.append(Change(row.upn, name, "register.pupil_added", f"added to the register (year group {row.year_group or 'not given'})",
                                   fields={k: (None, v) for k, v in wanted.items()}))
    else:
        if not pupil.on_roll:
            plan.pupil_fields.update(on_roll=True, left_on=None)
            plan.changes.append(Change(row.upn, name, "register.pupil_returned", f"back on roll (had been marked as left on {_day(pupil.left_on)})",
                                       fields={"on_roll": (False, True), "left_on": (pupil.left_on, None)}))
        details = _differences({k: getattr(pupil, k) for k in wanted}, wanted)
        if details:
            plan.pupil_fields.update({k: new for k, (_, new) in details.items()})
            plan.changes.append(Change(row.upn, name, "register.pupil_updated", "details changed: " + _in_words(details), fields=details))

    pupil_id = pupil.pk if pupil else None
    for kind, says_yes in ((ChannelKind.FACEBOOK, row.facebook_consent), (ChannelKind.YOUTUBE, row.youtube_consent)):
        _plan_photo(report, plan, row, kind, photo.get((pupil_id, kind)), says_yes, reference, today)
    refusal = _plan_biometric(report, plan, row, biometric.get(pupil_id), reference, today)
    _plan_erasure(plan, face_count, refusal)
    return plan


def _plan_photo(report, plan: _Plan, row: RegisterRow, kind, current, says_yes: bool, reference: str, today):
    label = ChannelKind(kind).label
    state = {name: getattr(current, name) for name in ("given", "given_on", "expires_on", "withdrawn_on", "form_reference")} if current else {
        "given": False, "given_on": None, "expires_on": None, "withdrawn_on": None, "form_reference": ""}
    in_force = state["given"] and not state["withdrawn_on"]
    extra = {"channel_kind": kind, "row": row.row}
    if says_yes:
        if state["withdrawn_on"] and row.consent_date <= state["withdrawn_on"]:
            report.warnings.append(
                f"Row {row.row}, {plan.name} ({row.upn}): the file says Yes to {label} photos, but that consent was withdrawn on "
                f"{_day(state['withdrawn_on'])}, after the consent date in the file ({_day(row.consent_date)}). It stays withdrawn: "
                f"a new written consent form, dated after the withdrawal, gives it again."
            )
            return
        same_form = in_force and state["given_on"] == row.consent_date
        wanted = {
            "given": True, "given_on": row.consent_date, "expires_on": row.consent_expires, "withdrawn_on": None,
            "form_reference": row.consent_reference or (state["form_reference"] if same_form else reference),
        }
        differences = _differences(state, wanted)
        if not differences:
            return
        plan.photo[kind] = wanted
        if in_force:
            plan.changes.append(Change(row.upn, plan.name, "consent.photo_changed", f"{label} photo consent changed: " + _in_words(differences),
                                       fields=differences, extra=extra))
        else:
            until = f"until {_day(row.consent_expires)}" if row.consent_expires else "with no end date"
            plan.changes.append(Change(row.upn, plan.name, "consent.photo_given",
                                       f"{label} photo consent given (form dated {_day(row.consent_date)}, {until})",
                                       fields=differences, extra=extra))
    elif current is None:
        plan.photo[kind] = state  # a record that says no consent was given
    elif in_force:
        plan.photo[kind] = {"given": False, "withdrawn_on": today}
        plan.changes.append(Change(row.upn, plan.name, "consent.photo_withdrawn",
                                   f"{label} photo consent withdrawn (it was given on {_day(state['given_on'])})",
                                   fields={"given": (True, False), "withdrawn_on": (None, today)}, extra=extra))


def _plan_biometric(report, plan: _Plan, row: RegisterRow, current, reference: str, today) -> str:
    """Plan the biometric record; return why enrolment would then be refused ("" if it would not)."""
    names = ("parent_consent", "given_on", "form_reference", "withdrawn_on", "pupil_objects")
    state = {name: getattr(current, name) for name in names} if current else {
        "parent_consent": False, "given_on": None, "form_reference": "", "withdrawn_on": None, "pupil_objects": False}
    wanted = dict(state)
    in_force = state["parent_consent"] and not state["withdrawn_on"]
    extra = {"row": row.row}
    if row.biometric_consent:
        if state["withdrawn_on"] and row.consent_date <= state["withdrawn_on"]:
            report.warnings.append(
                f"Row {row.row}, {plan.name} ({row.upn}): the file says Yes to biometric processing, but that consent was withdrawn on "
                f"{_day(state['withdrawn_on'])}, after the consent date in the file ({_day(row.consent_date)}). It stays withdrawn: "
                f"a new written consent form, dated after the withdrawal, gives it again."
            )
        else:
            same_form = in_force and state["given_on"] == row.consent_date
            wanted.update(parent_consent=True, given_on=row.consent_date, withdrawn_on=None,
                          form_reference=row.biometric_reference or (state["form_reference"] if same_form else reference))
            differences = _differences(state, {k: wanted[k] for k in ("parent_consent", "given_on", "withdrawn_on", "form_reference")})
            if differences and in_force:
                plan.changes.append(Change(row.upn, plan.name, "consent.biometric_changed",
                                           "parental consent to biometric processing changed: " + _in_words(differences), fields=differences, extra=extra))
            elif differences:
                plan.changes.append(Change(row.upn, plan.name, "consent.biometric_given",
                                           f"parental consent to biometric processing given (form dated {_day(row.consent_date)})",
                                           fields=differences, extra=extra))
    elif in_force:
        wanted.update(parent_consent=False, withdrawn_on=today)
        plan.changes.append(Change(row.upn, plan.name, "consent.biometric_withdrawn",
                                   f"parental consent to biometric processing withdrawn (it was given on {_day(state['given_on'])})",
                                   fields={"parent_consent": (True, False), "withdrawn_on": (None, today)}, extra=extra))
    if row.objects_to_biometrics and not state["pupil_objects"]:
        wanted["pupil_objects"] = True
        plan.changes.append(Change(row.upn, plan.name, "consent.pupil_objects",
                                   "objects to biometric processing (this overrides any parental consent)",
                                   fields={"pupil_objects": (False, True)}, extra=extra))
    elif not row.objects_to_biometrics and state["pupil_objects"]:
        report.warnings.append(
            f"Row {row.row}, {plan.name} ({row.upn}): the file says the pupil does not object to biometric processing, but an "
            f"objection is recorded. It stays: an import never clears a pupil's objection."
        )
    if current is None or wanted != state:
        plan.biometric = wanted
    if wanted["pupil_objects"]:
        return "the pupil objects to biometric processing"
    if not wanted["parent_consent"] or wanted["withdrawn_on"]:
        return "there is no current parental consent to biometric processing"
    return ""


def _plan_erasure(plan: _Plan, face_count: int, reason: str):
    if face_count and reason:
        plan.changes.append(Change(plan.upn, plan.name, "faces.erased",
                                   f"{face_count} enrolled face{'s' if face_count != 1 else ''} erased: {reason}",
                                   extra={"reason": reason}))


def _apply(plans: list[_Plan], report: ImportReport, by, data: bytes):
    source = {"source": "import", "file": report.file_name}
    for plan in plans:
        pupil = plan.pupil or Pupil(upn=plan.upn)
        if plan.pupil_fields or pupil.pk is None:
            for name, value in plan.pupil_fields.items():
                setattr(pupil, name, value)
            pupil.save()
        for kind, values in plan.photo.items():
            PhotoConsent.objects.update_or_create(pupil=pupil, channel_kind=kind, defaults=values)
        if plan.biometric is not None:
            BiometricConsent.objects.update_or_create(pupil=pupil, defaults=plan.biometric)
        for change in plan.changes:
            if change.action == "faces.erased":
                erase_encodings(pupil, change.extra["reason"], by)
            else:
                change.write(by, pupil, **source)
            if change.action == "consent.photo_withdrawn":
                photo_consent_lost(pupil, by)
    if report.changes:
        how = "partial import: pupils not in the file unchanged" if report.partial else "full import"
        AuditEntry.objects.create(
            actor=_actor(by), action="register.imported",
            summary=f"Consent register imported from {report.file_name} by {_who(by)} ({how}, column profile '{report.profile}'): "
                    f"{report.counts_in_words()}",
            data={**source, "profile": report.profile, "partial": report.partial, "counts": report.counts,
                  "sha256": hashlib.sha256(data).hexdigest(), "warnings": report.warnings},
        )


# --- Reading the register ------------------------------------------------------------------


@dataclass
class State:
    css: str  # a status class of site.css: pass, fail, waiting, draft
    words: str


def photo_state(consent: PhotoConsent | None, today=None) -> State:
    today = today or timezone.localdate()
    if consent is None:
        return State("draft", "Not recorded")
    if consent.withdrawn_on:
        return State("fail", f"Withdrawn on {_day(consent.withdrawn_on)}")
    if not consent.given:
        return State("fail", "No")
    if consent.is_current(today):
        return State("pass", f"Yes, until {_day(consent.expires_on)}" if consent.expires_on else "Yes, no end date")
    if not consent.pupil.on_roll:
        return State("draft", "Not current: the pupil has left")
    if consent.expires_on and consent.expires_on < today:
        return State("fail", f"Expired on {_day(consent.expires_on)}")
    return State("waiting", f"From {_day(consent.given_on)}")


def biometric_state(pupil: Pupil) -> State:
    try:
        consent = pupil.biometric_consent
    except BiometricConsent.DoesNotExist:
        return State("draft", "Not recorded")
    if consent.pupil_objects:
        return State("fail", "The pupil objects")
    if consent.withdrawn_on:
        return State("fail", f"Withdrawn on {_day(consent.withdrawn_on)}")
    if not consent.parent_consent:
        return State("fail", "No")
    if not pupil.on_roll:
        return State("draft", "Not current: the pupil has left")
    return State("pass", "Yes")


@dataclass
class RegisterLine:
    pupil: Pupil
    facebook: State
    youtube: State
    biometric: State
    faces: int
    # Faces enrolled with an older face model: never matched, waiting for the pupil to be enrolled again.
    older_faces: int = 0


def _with_consents(queryset):
    # Meta.ordering does not apply to a query with GROUP BY (the count), so say it again.
    current = Q(face_encodings__model=recognition.MODEL_ID)
    return (queryset.select_related("biometric_consent").prefetch_related("photo_consents")
            .annotate(faces=Count("face_encodings", filter=current), older_faces=Count("face_encodings", filter=~current))
            .order_by(*Pupil._meta.ordering))


def _line(pupil: Pupil, today) -> RegisterLine:
    photo = {c.channel_kind: c for c in pupil.photo_consents.all()}
    return RegisterLine(
        pupil, photo_state(photo.get(ChannelKind.FACEBOOK), today), photo_state(photo.get(ChannelKind.YOUTUBE), today),
        biometric_state(pupil), pupil.faces, pupil.older_faces,
    )


ON_ROLL, LEFT, EVERYONE = "on_roll", "left", "all"


def find_pupils(by, *, search: str = "", year: str = "", status: str = ON_ROLL) -> list[RegisterLine]:
    """The register, searched by name or UPN, by year group and by whether pupils are on roll."""
    require_keeper(by)
    pupils = Pupil.objects.all()
    for term in search.split():
        pupils = pupils.filter(
            Q(upn__icontains=term) | Q(legal_forename__icontains=term) | Q(legal_surname__icontains=term)
            | Q(preferred_forename__icontains=term)
        )
    if year:
        pupils = pupils.filter(year_group=year)
    if status == ON_ROLL:
        pupils = pupils.filter(on_roll=True)
    elif status == LEFT:
        pupils = pupils.filter(on_roll=False)
    today = timezone.localdate()
    return [_line(pupil, today) for pupil in _with_consents(pupils)]


def to_enrol_again(by) -> list[Pupil]:
    """Pupils on roll whose enrolled faces were made by an older face model: they are not
    recognised until the register keeper enrols them again from new photos (the photos behind
    the old encodings were never kept)."""
    require_keeper(by)
    older = FaceEncoding.objects.exclude(model=recognition.MODEL_ID).values("pupil_id")
    current = FaceEncoding.objects.filter(model=recognition.MODEL_ID).values("pupil_id")
    return list(Pupil.objects.filter(on_roll=True, pk__in=older).exclude(pk__in=current).order_by(*Pupil._meta.ordering))


def year_groups() -> list[str]:
    years = set(Pupil.objects.exclude(year_group="").values_list("year_group", flat=True))
    return sorted(years, key=lambda y: (not y.isdigit(), int(y) if y.isdigit() else 0, y))


def pupil_record(by, upn: str) -> dict:
    """One pupil's page: their consents and their whole history. Raises Pupil.DoesNotExist."""
    require_keeper(by)
    pupil = _with_consents(Pupil.objects.filter(upn=upn.strip().upper())).get()
    photo = {c.channel_kind: c for c in pupil.photo_consents.all()}
    today = timezone.localdate()
    try:
        biometric = pupil.biometric_consent
    except BiometricConsent.DoesNotExist:
        biometric = None
    return {
        "pupil": pupil,
        "line": _line(pupil, today),
        "photo": [(ChannelKind(kind).label, photo.get(kind), photo_state(photo.get(kind), today)) for kind in ChannelKind.values],
        "biometric": biometric,
        "enrolment_refusal": biometric_refusal(pupil),
        "history": pupil_history(pupil),
    }


def pupil_history(pupil: Pupil):
    """Every audit entry about the pupil: they name the pupil by record number (older ones were
    rewritten to do so when the audit chain began, moderation migration 0010)."""
    return AuditEntry.objects.filter(data__pupil=pupil.pk).select_related("actor").order_by("-at", "-id")


def erase_pupil(pupil: Pupil, by, reason: str) -> None:
    """Erase a pupil's personal data (they left long ago, or their family asked): enrolled faces,
    names, UPN and year group. What stays is nameless: the consent records (dates and answers), the
    links to published posts (so a consent change can still find them), and the audit trail, which
    names pupils by record number only and now says that this record was erased, not whose it was."""
    require_keeper(by, "Only the register keeper or the headteacher can erase a pupil's record.")
    reason = (reason or "").strip()
    if len(reason.split()) < 3:
        raise ValidationError("Say in a few words why the record is erased (for example: left in 2024, retention period over).")
    with transaction.atomic():
        locked = Pupil.objects.select_for_update().get(pk=pupil.pk)
        if locked.erased_at:
            raise ValidationError("This pupil's record is already erased.")
        erase_encodings(locked, "the pupil's record is erased", by)
        # Whoever keeps texts that may name the pupil takes the name out, and says how many changed.
        scrubbed = sum(changed for _, changed in signals.pupil_erased.send(sender=Pupil, pupil=locked))
        locked.legal_forename = locked.legal_surname = locked.preferred_forename = locked.year_group = ""
        locked.upn = f"X{locked.pk:012d}"[-13:]
        locked.on_roll = False
        locked.left_on = locked.left_on or timezone.localdate()
        locked.erased_at = timezone.now()
        locked.save()
        PhotoConsent.objects.filter(pupil=locked).update(form_reference="")
        BiometricConsent.objects.filter(pupil=locked).update(form_reference="")
        AuditEntry.objects.create(
            actor=_actor(by), action="register.pupil_erased",
            summary=f"A pupil's record was erased ({locked.reference}): {reason}",
            data={"pupil": locked.pk, "reason": reason, "texts_scrubbed": scrubbed},
        )
    pupil.refresh_from_db()
