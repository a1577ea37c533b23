"""Drafting: writing, submitting, the gates' first run, and what may change a draft's status."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from config.school.models import AuditEntry, School
from moderation.accounts import services as accounts
from moderation.approval import services as approving
from moderation.approval.attestations import ATTESTATIONS
from moderation.drafts import services as drafting
from moderation.gates import pipeline
from moderation.models import Draft, IllegalTransition
from moderation.publishing import services as publishing
from tests.conftest import link_draft, make_user, results_by_gate


def photo_upload(name="late.png"):
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue())


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


def test_an_illegal_transition_is_refused_and_changes_nothing(office, facebook):
    draft = link_draft(office, facebook)
    entries = AuditEntry.objects.count()
    with pytest.raises(IllegalTransition, match="being written"):
        draft.transition("mark_published", by=office)
    draft.refresh_from_db()
    assert draft.status == Draft.Status.DRAFT
    assert AuditEntry.objects.count() == entries


def test_a_status_cannot_be_changed_by_an_ordinary_save(office, facebook):
    draft = link_draft(office, facebook)
    draft.status = Draft.Status.PUBLISHED
    draft.save()
    draft.refresh_from_db()
    assert draft.status == Draft.Status.DRAFT


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
    School.objects.filter(pk=draft.school_id).update(aup_version="2027-1")
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
