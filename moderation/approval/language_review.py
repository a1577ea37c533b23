"""The reviewing colleague's judgement of the sentences `respectful-language` flags.

Each flag is confirmed as a false alarm, with the reason in words, or judged abusive (then the
draft cannot be approved until its author changes the words). Every judgement is an audit entry.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from config.school.models import AuditEntry
from moderation.approval import services as approving
from moderation.gates.respectful_language import flags_in
from moderation.models import Draft, LanguageReview

# A reason is a sentence, not a tick: "ok" does not say why a flag is a false alarm.
MIN_REASON_WORDS = 3


def flags_with_reviews(draft: Draft):
    """[(finding, review or None)] for the draft's words as they are now."""
    # From the draft's own fields, not its files: a published draft's uploads are gone.
    descriptions = list(draft.media.values_list("original_name", "alt_text"))
    reviews = {(r.where, r.sentence): r for r in draft.language_reviews.select_related("decided_by")}
    return [(flag, reviews.get((flag.where, flag.text))) for flag in flags_in(draft.text, draft.title, descriptions)]


def review(draft: Draft, by, *, where: str, sentence: str, verdict: str, reason: str = "") -> LanguageReview:
    if draft.status != Draft.Status.AWAITING_APPROVAL:
        raise ValidationError("Flags are judged while the draft awaits approval.")
    if not approving.can_approve(draft, by):
        raise PermissionDenied("Only a colleague reviewing the draft, not its author, can judge a flag.")
    if verdict not in LanguageReview.Verdict.values:
        raise ValidationError("Say whether the flag is a false alarm or abusive.")
    reason = " ".join(reason.split())
    if verdict == LanguageReview.Verdict.FALSE_ALARM and len(reason.split()) < MIN_REASON_WORDS:
        raise ValidationError("Say in words why this is a false alarm (for example: 'Dick Whittington is the pantomime's title').")
    if not any(flag.where == where and flag.text == sentence for flag, _ in flags_with_reviews(draft)):
        raise ValidationError("That sentence is not flagged in the draft as it is now.")
    with transaction.atomic():
        judged, _ = LanguageReview.objects.update_or_create(
            draft=draft, where=where, sentence=sentence,
            defaults={"verdict": verdict, "reason": reason, "decided_by": by},
        )
        AuditEntry.objects.create(
            actor=by, action="language.reviewed", draft=draft, channel_id=draft.channel_id,
            # The words themselves stay with the review (they may name someone; the trail cannot be changed).
            # Where they were can name a file (often a child's name): the review row keeps it.
            summary=f"Flagged words (review {judged.pk}) judged {judged.get_verdict_display().lower()}",
            data={"verdict": verdict, "review": judged.pk},
        )
    return judged
