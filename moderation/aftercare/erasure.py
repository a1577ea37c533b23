"""What moderation does when the register changes: a pupil whose photo consent is lost has every
approved draft showing them checked again; a pupil whose record is erased has their name taken
out of every text moderation keeps. Connected to consent's signals when the app is ready."""

import json
import re
from pathlib import Path

from django.dispatch import receiver

from consent import signals
from moderation.gates import pipeline
from moderation.models import (
    Approval,
    Concern,
    ConcernNote,
    Draft,
    GateResult,
    GateRun,
    IllegalTransition,
    LanguageReview,
    MediaFile,
    MediaText,
    PlatformComment,
    PublishedPost,
)
from moderation.publishing import scheduling

ERASED_NAME = "[an erased pupil]"


@receiver(signals.photo_consent_lost)
def check_drafts_again(sender, pupil, by, **kwargs):
    hold_drafts_showing(pupil, by)


@receiver(signals.pupil_erased)
def scrub_names(sender, pupil, **kwargs) -> int:
    """Take the pupil's full name out of every text the product keeps that may hold it: gate
    results, draft notes and texts, comments read from the platforms, concerns, words read in
    photos, flagged sentences, approvers' comments. Returns how many texts changed."""
    surname = pupil.legal_surname.strip()
    forenames = {f.strip() for f in (pupil.legal_forename, pupil.preferred_forename) if f.strip()}
    if not surname or not forenames:
        return 0
    pattern = re.compile(
        "|".join(rf"\b{re.escape(f)}\s+{re.escape(surname)}\b|\b{re.escape(surname)},?\s+{re.escape(f)}\b"
                 for f in sorted(forenames, key=len, reverse=True)),
        re.IGNORECASE,
    )
    changed = 0
    places = [
        (GateResult, "message"), (Draft, "status_note"), (Draft, "text"), (Draft, "title"), (PlatformComment, "text"),
        (PlatformComment, "author"), (Concern, "details"), (ConcernNote, "text"), (MediaText, "text"), (LanguageReview, "sentence"),
        (Approval, "comment"), (PublishedPost, "takedown_reason"), (Concern, "outcome"), (PlatformComment, "dealt_with_note"),
    ]
    for model, name in places:
        for pk, value in model.objects.filter(**{f"{name}__icontains": surname}).values_list("pk", name):
            cleaned = pattern.sub(ERASED_NAME, value)
            if cleaned != value:
                model.objects.filter(pk=pk).update(**{name: cleaned})
                changed += 1
    # File names are often a child's name, written any way: "amira_khan.jpg", "AmiraKhan-sports.jpg".
    # Such a file is renamed by its row ("photo 12.jpg"), and texts quoting its name lose it too.
    loose = re.compile(
        "|".join(rf"{re.escape(f)}[\W_]*{re.escape(surname)}|{re.escape(surname)}[\W_]*{re.escape(f)}"
                 for f in sorted(forenames, key=len, reverse=True)),
        re.IGNORECASE,
    )
    for media in MediaFile.objects.filter(original_name__icontains=surname):
        if loose.search(media.original_name):
            renamed = f"{media.audit_label}{Path(media.original_name).suffix}"
            for model, name in ((GateResult, "message"), (Draft, "status_note")):
                for pk, value in model.objects.filter(**{f"{name}__contains": media.original_name}).values_list("pk", name):
                    model.objects.filter(pk=pk).update(**{name: value.replace(media.original_name, renamed)})
                    changed += 1
            MediaFile.objects.filter(pk=media.pk).update(original_name=renamed)
            changed += 1
    # Why a comment was raised quotes the words it found.
    for pk, reasons in PlatformComment.objects.exclude(reasons=[]).values_list("pk", "reasons"):
        cleaned = json.loads(pattern.sub(ERASED_NAME, json.dumps(reasons, ensure_ascii=False)))
        if cleaned != reasons:
            PlatformComment.objects.filter(pk=pk).update(reasons=cleaned)
            changed += 1
    return changed


def hold_drafts_showing(pupil, by) -> list[Draft]:
    """After a pupil's consent changes: every approved draft showing them is checked again, and held if it fails."""
    from django.db.models import Q

    drafts = Draft.objects.filter(status__in=[Draft.Status.APPROVED, Draft.Status.WAITING]).filter(
        Q(media__faces__identified_pupil=pupil) | Q(media__faces__auto_pupil=pupil)
        | Q(media__tracks__identified_pupil=pupil) | Q(media__tracks__auto_pupil=pupil)
    ).distinct()
    held = []
    for draft in drafts:
        run = pipeline.run_gates(draft, GateRun.Phase.RECHECK, by)
        if not run.passed:
            note = "Consent changed: " + pipeline.summary(pipeline.failures(run))
            try:
                draft.transition("hold", by=by, note=note, data={"gate_run": run.pk}, audit_note="consent changed: " + pipeline.gate_ids(run))
            except IllegalTransition:
                continue  # it moved on meanwhile (published or reopened): nothing to hold
            held.append(draft)
            scheduling.tell_held(draft, note)
    return held
