"""Approval by a second colleague (never the author), bound to the exact content they saw.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from config.school.people import display_name, require
from moderation.accounts.services import require_aup
from moderation.approval import attestations as attestation_text
from moderation.gates import pipeline
from moderation.models import (
    Approval,
    Draft,
    GateRun,
)


def can_approve(draft: Draft, user) -> bool:
    return user.pk != draft.author_id and user.has_perm("moderation.approve_draft")


def send_back(draft: Draft, by, comment: str):
    require(by, "moderation.approve_draft", "Only an approver can send a draft back.")
    if by.pk == draft.author_id:
        raise PermissionDenied("You wrote this draft: a second colleague must review it.")
    if not comment.strip():
        raise ValidationError("Say what the author should change.")
    draft.transition("send_back", by=by, note=f"{display_name(by)} asks: {comment.strip()}",
                     audit_note=f"{display_name(by)} asked for changes (the comment is on the draft)")


def approve(draft: Draft, by, confirmed: dict[str, str], comment: str = "", seen_hash: str | None = None) -> Approval:
    """A second colleague approves this exact content, confirming every attestation in words.
    seen_hash: the content hash of the page the approver read (the approve form carries it);
    when the content is no longer that, the approval is refused."""
    require(by, "moderation.approve_draft", "Only an approver can approve a draft.")
    if by.pk == draft.author_id:
        raise PermissionDenied("You wrote this draft: a second colleague must approve it.")
    require_aup(by)
    missing = [key for key, words in attestation_text.ATTESTATIONS if confirmed.get(key) != words]
    if missing:
        raise ValidationError("Confirm every statement before approving.")
    with transaction.atomic():
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        if locked.status != Draft.Status.AWAITING_APPROVAL:
            raise ValidationError(f"This draft is {locked.get_status_display().lower()} and cannot be approved now.")
        content = pipeline.freeze(locked)
        if seen_hash is not None and seen_hash != content.hash:
            raise ValidationError("The draft changed after you opened it (a file, the text or a decision about a face). "
                                  "Look at it again before approving: what you approve is what you have seen.")
        run = pipeline.run_gates(locked, GateRun.Phase.APPROVE, by, content=content)
        if not run.passed:
            raise ValidationError(
                "It cannot be approved yet: " + pipeline.summary(pipeline.failures(run)) + " Settle these, or send it back to its author."
            )
        approval = Approval.objects.create(
            draft=locked, approver=by, content_hash=content.hash, aup_version=draft.school.aup_version,
            attestations=dict(attestation_text.ATTESTATIONS), comment=comment.strip(),
        )
        locked.transition("approve", by=by, note=comment.strip(), data={"approval": approval.pk, "content_hash": content.hash},
                          audit_note="with a comment, kept with the approval")
    draft.refresh_from_db()
    return approval
