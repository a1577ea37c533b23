from moderation.approval.attestations import ATTESTATIONS
from moderation.gates.base import Gate, failed, passed, waiting
from moderation.models import MediaFile


class Attestations(Gate):
    """Section 5: professional, credible, fair and honest; libel, defamation, confidentiality, copyright, data protection and equalities law; no commitments without authority.

    The approver confirms each attestation in the words shown beside the draft, and the author
    declares the source and rights of every media file.
    """

    id = "attestations"
    title = "Attestations"
    decided_by_person = True

    def check(self, ctx):
        undeclared = [
            f"{item.original_name} (item {item.position + 1})"
            for item in ctx.content.media
            if not item.source.strip() or item.rights not in MediaFile.Rights.values
        ]
        if undeclared:
            return failed("Declare the source and rights of " + ", ".join(undeclared) + ".")
        approval = ctx.draft.approvals.filter(voided_at__isnull=True).first()
        if approval is None:
            declared = f"Source and rights declared for all {len(ctx.content.media)} media files. " if ctx.content.media else ""
            return waiting(declared + "The approver must confirm each attestation.")
        unconfirmed = [key for key, words in ATTESTATIONS if approval.attestations.get(key) != words]
        if unconfirmed:
            return failed("The approver did not confirm: " + ", ".join(unconfirmed) + ". It must be approved again.")
        declared = "; source and rights declared for every media file" if ctx.content.media else ""
        return passed(f"All {len(ATTESTATIONS)} attestations confirmed{declared}.")


gate = Attestations()
