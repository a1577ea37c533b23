"""The moderation workflow, one behaviour per test, named as the policy would say it."""

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError

from config.school import roles
from config.school.models import AuditEntry
from moderation.accounts import services as accounts
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.models import Approval, Draft, GateRun, IllegalTransition, PublishedPost
from moderation.publishing import services as publishing
from moderation.reviews import services as reviews
from tests.conftest import age_risk_assessment, link_draft, make_user


def results_by_gate(run):
    return {r.gate_id: r for r in run.results.all()}


def test_a_draft_that_passes_every_automatic_gate_waits_for_a_second_colleague(office, facebook):
    draft = link_draft(office, facebook)
    run = drafting.submit(draft, office)
    assert run.passed
    assert draft.status == Draft.Status.AWAITING_APPROVAL
    assert results_by_gate(run)["second-colleague"].status == "waiting"


def test_a_draft_failing_a_gate_goes_back_to_its_author_with_the_reasons(office, facebook):
    draft = link_draft(office, facebook, intended_outcome="")
    run = drafting.submit(draft, office)
    assert not run.passed
    draft.refresh_from_db()
    assert draft.status == Draft.Status.RETURNED
    assert "clear-objective" in draft.status_note
    assert "intended outcome" in results_by_gate(run)["clear-objective"].message


def test_fixing_a_returned_draft_and_resubmitting_runs_the_gates_again(office, facebook):
    draft = link_draft(office, facebook, objective="")
    assert not drafting.submit(draft, office).passed
    drafting.update_draft(draft, office, objective="educational")
    run = drafting.submit(draft, office)
    assert run.passed
    assert draft.gate_runs.count() == 2
    assert draft.status == Draft.Status.AWAITING_APPROVAL


def test_self_approval_is_refused(office, facebook, head):
    # The headteacher may approve, but never a draft of their own.
    facebook.authors.add(head)
    head.groups.add(Group.objects.get(name=roles.OFFICE_STAFF))
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
    office.groups.add(Group.objects.get(name=roles.APPROVER))
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


def test_content_changed_behind_an_approval_is_not_published(approved_draft, approver):
    # Changed without going through the product: the approval's hash no longer matches.
    Draft.objects.filter(pk=approved_draft.pk).update(link="https://example.com/changed")
    approved_draft.refresh_from_db()
    with pytest.raises(publishing.PublishRefused, match="second-colleague"):
        publishing.publish(approved_draft, approver)
    approved_draft.refresh_from_db()
    assert approved_draft.status == Draft.Status.HELD
    assert not PublishedPost.objects.exists()


def test_publishing_rechecks_the_gates_and_refuses_when_the_risk_assessment_expired_after_approval(approved_draft, approver, facebook):
    age_risk_assessment(facebook, days=366)
    with pytest.raises(publishing.PublishRefused, match="channel-risk-assessed"):
        publishing.publish(approved_draft, approver)
    approved_draft.refresh_from_db()
    assert approved_draft.status == Draft.Status.HELD
    assert "expired" in approved_draft.status_note
    run = approved_draft.gate_runs.filter(phase=GateRun.Phase.PUBLISH).get()
    assert results_by_gate(run)["channel-risk-assessed"].status == "fail"
    assert not PublishedPost.objects.exists()


def test_a_held_draft_publishes_once_the_headteacher_renews_the_risk_assessment(approved_draft, approver, head, facebook):
    age_risk_assessment(facebook, days=400)
    with pytest.raises(publishing.PublishRefused):
        publishing.publish(approved_draft, approver)
    reviews.approve_risk_assessment(facebook, head, summary="Reviewed for another year.")
    post = publishing.publish(approved_draft, approver)
    assert post.platform_post_id.startswith("outbox-")


def test_publishing_writes_the_post_to_the_outbox_and_records_who_did_what(approved_draft, approver, office, data_dir):
    post = publishing.publish(approved_draft, approver)
    approved_draft.refresh_from_db()
    assert approved_draft.status == Draft.Status.PUBLISHED
    assert (data_dir / "outbox" / post.platform_post_id / "post.json").is_file()
    assert post.published_by == approver
    assert post.approved_by == approver
    assert post.draft.author == office
    assert post.gate_run.passed and post.gate_run.phase == GateRun.Phase.PUBLISH
    assert all(r.status == "pass" for r in post.gate_run.results.all())


def test_an_illegal_transition_is_refused_and_changes_nothing(office, facebook):
    draft = link_draft(office, facebook)
    entries = AuditEntry.objects.count()
    with pytest.raises(IllegalTransition, match="being written"):
        draft.transition("mark_published", by=office)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.DRAFT
    assert AuditEntry.objects.count() == entries


def test_a_draft_cannot_be_published_twice_at_once(approved_draft, approver):
    first, second = Draft.objects.get(pk=approved_draft.pk), Draft.objects.get(pk=approved_draft.pk)
    first.transition("start_publishing", by=approver)
    with pytest.raises(IllegalTransition):
        second.transition("start_publishing", by=approver)


def test_a_status_cannot_be_changed_by_an_ordinary_save(office, facebook):
    draft = link_draft(office, facebook)
    draft.status = Draft.Status.PUBLISHED
    draft.save()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.DRAFT


def test_a_scheduled_draft_is_not_published_before_its_time(office, approver, facebook):
    from datetime import timedelta

    from django.utils import timezone

    draft = link_draft(office, facebook, publish_at=timezone.now() + timedelta(days=1))
    drafting.submit(draft, office)
    approving.approve(draft, approver, dict(ATTESTATIONS))
    with pytest.raises(ValidationError, match="not before"):
        publishing.publish(draft, approver)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.APPROVED


def test_an_approver_cannot_publish_a_draft_that_was_never_approved(office, approver, facebook):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    with pytest.raises(IllegalTransition):
        publishing.publish(draft, approver)


def test_a_draft_with_ordinary_text_passes_the_text_gates_and_reaches_the_approver(office, facebook):
    draft = link_draft(office, facebook, text="Well done to Year 4 for their river project!")
    run = drafting.submit(draft, office)
    assert run.passed
    results = results_by_gate(run)
    assert results["no-personal-data"].status == "pass"
    assert results["respectful-language"].status == "pass"


def test_every_state_change_of_a_draft_writes_an_audit_entry(approved_draft, approver):
    publishing.publish(approved_draft, approver)
    actions = list(approved_draft.audit_entries.order_by("at", "id").values_list("action", flat=True))
    assert actions == [
        "draft.created", "draft.submit", "draft.approve", "draft.start_publishing", "draft.mark_published",
    ]


def test_audit_entries_cannot_be_edited_or_deleted(office, facebook):
    link_draft(office, facebook)
    entry = AuditEntry.objects.first()
    entry.summary = "something else"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().update(summary="x")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()


def test_a_new_aup_version_must_be_accepted_before_drafting_or_approving(office, approver, facebook, settings):
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    settings.SCHOOL = type(settings.SCHOOL)(**{**settings.SCHOOL.__dict__, "aup_version": "2027-1"})
    with pytest.raises(accounts.AUPNotAccepted):
        link_draft(office, facebook)
    with pytest.raises(accounts.AUPNotAccepted):
        approving.approve(draft, approver, dict(ATTESTATIONS))
    accounts.accept_aup(approver)
    # The author has not accepted the new version either, so the checks fail at approval.
    with pytest.raises(ValidationError, match="authorised-author"):
        approving.approve(draft, approver, dict(ATTESTATIONS))
    accounts.accept_aup(office)
    approving.approve(draft, approver, dict(ATTESTATIONS))


def test_staff_not_authorised_for_a_channel_cannot_draft_for_it(db, facebook):
    from config.school import roles

    newcomer = make_user("newcomer", roles.OFFICE_STAFF)
    with pytest.raises(PermissionDenied, match="not authorised"):
        link_draft(newcomer, facebook)


def test_only_the_author_can_edit_or_submit_a_draft(office, approver, facebook):
    draft = link_draft(office, facebook)
    with pytest.raises(PermissionDenied):
        drafting.update_draft(draft, approver, link="https://example.com")
    with pytest.raises(PermissionDenied):
        drafting.submit(draft, approver)


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
    office.groups.add(Group.objects.get(name=roles.APPROVER))
    office = type(office).objects.get(pk=office.pk)
    draft = link_draft(office, facebook)
    drafting.submit(draft, office)
    with pytest.raises(PermissionDenied):
        approving.send_back(draft, office, "Changing my mind")


def test_the_approval_queue_shows_fifty_drafts_a_page_longest_waiting_first(office, approver, facebook, client):
    from moderation.models import Draft

    Draft.objects.bulk_create(
        Draft(channel=facebook, author=office, status=Draft.Status.AWAITING_APPROVAL, link=f"https://example.org/{n}") for n in range(120)
    )
    client.force_login(approver)
    first = client.get("/queue/").content.decode()
    assert "120 drafts waiting" in first and "Page 1 of 3" in first and first.count("Review</a>") == 50
    assert client.get("/queue/?page=3").content.decode().count("Review</a>") == 20
    assert client.get("/queue/?page=99").status_code == 200  # past the end: the last page


# --- Races: what is approved is what was checked and seen -----------------------------------------


def photo_upload(name="late.png"):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue())


def test_a_photo_uploaded_while_the_draft_is_being_submitted_is_refused_and_nothing_is_kept(office, facebook, settings):
    draft = link_draft(office, facebook)
    stale = Draft.objects.get(pk=draft.pk)  # the upload's request loaded the draft before the submission landed
    drafting.submit(draft, office)
    with pytest.raises(ValidationError, match="awaiting approval"):
        drafting.add_media(stale, office, photo_upload(), source="Mrs Patel", rights="school", alt_text="Late photo")
    assert not draft.media.exists() and not any(settings.UPLOAD_DIR.iterdir())
    draft.refresh_from_db()
    assert draft.status == Draft.Status.AWAITING_APPROVAL


def test_an_edit_from_a_page_loaded_before_the_submission_never_writes_the_old_status_back(office, facebook):
    draft = link_draft(office, facebook)
    stale = Draft.objects.get(pk=draft.pk)
    drafting.submit(draft, office)
    with pytest.raises(ValidationError):
        drafting.update_draft(stale, office, text="Changed after submitting.")
    draft.refresh_from_db()
    assert draft.status == Draft.Status.AWAITING_APPROVAL and draft.text != "Changed after submitting."


def test_an_edit_that_lands_while_the_checks_run_refuses_the_submission(office, facebook, monkeypatch):
    draft = link_draft(office, facebook)
    checks = pipeline.run_gates

    def checks_while_the_author_edits(*args, **kwargs):
        run = checks(*args, **kwargs)
        drafting.update_draft(Draft.objects.get(pk=draft.pk), office, text="Edited in another tab while the checks ran.")
        return run

    monkeypatch.setattr(pipeline, "run_gates", checks_while_the_author_edits)
    with pytest.raises(ValidationError, match="changed while its checks ran"):
        drafting.submit(draft, office)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.DRAFT  # nothing unchecked goes to the approver


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


# --- What the office sees of the checks --------------------------------------------------------


def test_the_office_sees_each_check_by_its_title_and_the_log_keeps_its_id(office, facebook, client):
    draft = link_draft(office, facebook)
    client.force_login(office)
    answer = client.post(f"/drafts/{draft.pk}/submit/", follow=True)
    page = answer.content.decode()
    assert "Official channel" in page and "<code>official-channel</code>" not in page
    assert 'title="official-channel"' in page  # for people who ask


def test_submitting_says_which_checks_still_wait_for_a_person_rather_than_that_every_check_passed(office, facebook, client):
    draft = link_draft(office, facebook)
    client.force_login(office)
    page = client.post(f"/drafts/{draft.pk}/submit/", follow=True).content.decode()
    assert "Every check passed" not in page
    assert "Every automatic check passed; 2 wait for the approver, who decides them." in page
