from django.utils import formats

from moderation.accounts.services import has_accepted_aup
from moderation.gates.base import Gate, failed, passed, waiting


class SecondColleague(Gate):
    """Section 5: "read and agreed by at least one other colleague"; communication "open to scrutiny".

    A colleague other than the author, with the approver role and the current AUP accepted,
    approved this exact content; any edit after approval voids the approval.
    """

    id = "second-colleague"
    title = "Second colleague"
    decided_by_person = True

    def check(self, ctx):
        draft = ctx.draft
        approval = draft.approvals.filter(voided_at__isnull=True).select_related("approver").first()
        if approval is None:
            return waiting("Awaits approval by a colleague other than the author.")
        approver = approval.approver
        name = approver.get_full_name() or approver.username
        if approver.pk == draft.author_id:
            return failed("It was approved by its own author. A second colleague must approve it.")
        if approval.content_hash != ctx.content.hash:
            return failed(
                "The content changed after it was approved, so the approval no longer applies. "
                "It must be submitted and approved again."
            )
        if not approver.is_active or not approver.has_perm("moderation.approve_draft"):
            return failed(f"{name} no longer holds the approver role. Another colleague must approve it.")
        if not has_accepted_aup(approver):
            return failed(
                f"{name} has not accepted version {ctx.school.aup_version} of the Acceptable Use Policy, "
                "so their approval cannot be used until they do."
            )
        return passed(f"Approved by {name} on {formats.date_format(approval.approved_at, 'j F Y, H:i')}.")


gate = SecondColleague()
