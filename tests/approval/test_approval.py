"""Approval by a second colleague: never the author, every attestation confirmed, bound to the exact content seen."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from config.school import roles
from config.school.tenancy import first_school
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.models import Approval, Draft, IllegalTransition
from moderation.publishing import services as publishing
from tests.conftest import link_draft


def test_self_approval_is_refused(office, facebook, head):
    # The headteacher may approve, but never a draft of their own.
    facebook.authors.add(head)
    roles.give_role(head, first_school(), roles.OFFICE_STAFF)
    head = type(head).objects.get(pk=head.pk)
    draft = link_draft(head, facebook)
    drafting.submit(draft, head)
    with pytest.raises(PermissionDenied, match="second colleague"):
        approving.approve(draft, head, dict(ATTESTATIONS))
    draft.refresh_from_db()
    assert draft.status == Draft.Status.AWAITING_APPROVAL
    assert not Approval.objects.exists()


def test_self_approval_is_refused_whatever_url_is_posted_to(client, office, facebook):
    # Even an author who also holds the approver role.
    roles.give_role(office, first_school(), roles.APPROVER)
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    client.force_login(office)
    data = {f"attest_{key}": "on" for key, _ in ATTESTATIONS}
    response = client.post(f"/drafts/{draft.pk}/approve/", data)
    assert response.status_code == 403
    draft.refresh_from_db()
    assert draft.status == Draft.Status.AWAITING_APPROVAL


def test_an_approver_must_confirm_every_attestation(office, approver, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    confirmed = dict(ATTESTATIONS[:-1])
    with pytest.raises(ValidationError):
        approving.approve(draft, approver, confirmed)
    assert draft.approvals.count() == 0


def test_an_approval_is_bound_to_the_exact_content(approved_draft):
    approval = approved_draft.approvals.get()
    assert approval.content_hash == pipeline.freeze(approved_draft).hash
    assert set(approval.attestations) == {key for key, _ in ATTESTATIONS}


def test_an_edit_after_approval_voids_the_approval(approved_draft, office, approver):
    drafting.reopen(approved_draft, office)
    drafting.update_draft(approved_draft, office, link="https://www.aycliffe.kent.sch.uk/news/other")
    approval = approved_draft.approvals.get()
    assert approval.voided_at is not None
    assert approved_draft.status == Draft.Status.DRAFT
    drafting.submit(approved_draft, office)
    assert approved_draft.status == Draft.Status.AWAITING_APPROVAL
    with pytest.raises(IllegalTransition):
        publishing.publish(approved_draft, approver)


def test_an_approver_sends_a_draft_back_with_a_comment_the_author_sees(client, office, approver, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    with pytest.raises(ValidationError):
        approving.send_back(draft, approver, "   ")
    approving.send_back(draft, approver, "Please link to the newsletter page, not the PDF.")
    draft.refresh_from_db()
    assert draft.status == Draft.Status.RETURNED
    client.force_login(office)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    assert "Jo Okafor asks: Please link to the newsletter page, not the PDF." in page


def test_an_author_cannot_send_back_their_own_draft(office, facebook):
    roles.give_role(office, first_school(), roles.APPROVER)
    office = type(office).objects.get(pk=office.pk)
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    with pytest.raises(PermissionDenied):
        approving.send_back(draft, office, "Changing my mind")


def test_the_approval_queue_shows_fifty_drafts_a_page_longest_waiting_first(office, approver, facebook, client):
    from moderation.models import Draft

    Draft.objects.bulk_create(
        Draft(school=facebook.school, channel=facebook, author=office, status=Draft.Status.AWAITING_APPROVAL, link=f"https://example.org/{n}") for n in range(120)
    )
    client.force_login(approver)
    first = client.get("/queue/").content.decode()
    assert "120 drafts waiting" in first and "Page 1 of 3" in first and first.count("Review</a>") == 50
    assert client.get("/queue/?page=3").content.decode().count("Review</a>") == 20
    assert client.get("/queue/?page=99").status_code == 200  # past the end: the last page


def test_an_approval_of_content_other_than_what_the_approver_saw_is_refused(office, approver, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    seen = pipeline.freeze(draft, read_bytes=False).hash  # the page the approver opened
    drafting.reopen(draft, office)
    drafting.update_draft(draft, office, text="A different post, submitted again while the approver read the first.")
    drafting.submit(draft, office)
    with pytest.raises(ValidationError, match="changed after you opened it"):
        approving.approve(draft, approver, dict(ATTESTATIONS), seen_hash=seen)
    assert not Approval.objects.exists()


def test_the_approve_form_carries_what_the_approver_saw_and_approves_it(client, office, approver, facebook):
    import re

    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    client.force_login(approver)
    page = client.get(f"/drafts/{draft.pk}/").content.decode()
    [seen] = re.findall(r'name="seen_hash" value="([0-9a-f]{64})"', page)
    data = {f"attest_{key}": "on" for key, _ in ATTESTATIONS} | {"seen_hash": seen}
    client.post(f"/drafts/{draft.pk}/approve/", data)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED
    assert Approval.objects.get().content_hash == seen
