"""Erasure: a pupil who left, or whose family asks, loses their encodings and personal data; the
audit trail stays whole and meaningful, saying that a record was erased, not whose."""

import json

import numpy as np
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command

from config.school import audit, crypto
from config.school.models import AuditEntry
from consent import enrolment, services
from consent.models import FaceEncoding, PhotoConsent, Pupil
from moderation.approval import face_review
from moderation.drafts import services as drafting
from moderation.models import GateResult, MediaFile
from moderation.templatetags.people import audit_summary
from moderation.text import personal_data
from pixels import recognition
from tests.consent.test_register import BEN, SCHOOL, csv_bytes, run_import, school  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def ben(register_keeper, school, settings):  # noqa: F811
    pupil = Pupil.objects.get(upn=BEN)
    FaceEncoding.objects.create(pupil=pupil, encrypted=crypto.encrypt_encoding(np.zeros(128)), model=recognition.MODEL_ID, source_sha256="0" * 64)
    return pupil


def words_of_the_trail() -> str:
    return " ".join(e.summary + json.dumps(e.data) for e in AuditEntry.objects.all())


def test_the_audit_trail_names_pupils_by_record_number_only(ben):
    trail = words_of_the_trail()
    assert ben.reference in trail
    for personal in (ben.legal_forename, ben.legal_surname, ben.upn):
        assert personal not in trail, personal


def test_erasing_a_record_removes_faces_names_and_upn_and_keeps_the_consent_answers(ben, register_keeper):
    given = PhotoConsent.objects.get(pupil=ben, channel_kind="facebook").given
    services.erase_pupil(ben, register_keeper, "Left in 2025; retention period over")
    assert not FaceEncoding.objects.filter(pupil=ben).exists()
    assert (ben.legal_forename, ben.legal_surname, ben.preferred_forename, ben.year_group) == ("", "", "", "")
    assert ben.upn != BEN and ben.erased_at is not None and not ben.on_roll
    consent = PhotoConsent.objects.get(pupil=ben, channel_kind="facebook")
    assert consent.given == given and consent.form_reference == ""
    assert str(ben) == "an erased pupil's record"


def test_the_erasure_entry_says_a_record_was_erased_not_whose(ben, register_keeper):
    services.erase_pupil(ben, register_keeper, "The family asked for erasure")
    entry = AuditEntry.objects.get(action="register.pupil_erased")
    assert entry.summary.startswith("A pupil's record was erased") and "Benjamin" not in entry.summary
    assert audit.verify()[1] is None  # nothing in the trail had to change
    assert "Benjamin" not in words_of_the_trail() and BEN not in words_of_the_trail()


def test_the_history_still_reads_after_erasure(ben, register_keeper, client):
    services.erase_pupil(ben, register_keeper, "The family asked for erasure")
    client.force_login(register_keeper)
    page = client.get(f"/register/{ben.upn}/").content.decode()
    assert "an erased pupil&#x27;s record" in page and "Benjamin" not in page
    assert "added to the register" in page  # the history before the erasure, without the name


def test_while_the_record_exists_the_pages_name_the_pupil_beside_the_number(ben, register_keeper, client):
    client.force_login(register_keeper)
    page = client.get(f"/register/{ben.upn}/").content.decode()
    assert f"{ben} ({BEN}, {ben.reference})" in page


def test_an_erased_name_is_no_longer_looked_for_in_posts(ben, register_keeper):
    name = f"{ben.legal_forename} {ben.legal_surname}"
    assert personal_data.find(f"Well done {name}!", "text", personal_data.Names.from_register())
    services.erase_pupil(ben, register_keeper, "Left in 2025; retention period over")
    assert not personal_data.find(f"Well done {name}!", "text", personal_data.Names.from_register())


def test_erasing_needs_the_keeper_and_a_reason_and_happens_once(ben, register_keeper, office):
    with pytest.raises(PermissionDenied):
        services.erase_pupil(ben, office, "I want it gone now")
    with pytest.raises(ValidationError):
        services.erase_pupil(ben, register_keeper, "gone")
    services.erase_pupil(ben, register_keeper, "Left in 2025; retention period over")
    with pytest.raises(ValidationError, match="already erased"):
        services.erase_pupil(ben, register_keeper, "Left in 2025; retention period over")


def test_the_erase_command(ben, register_keeper, capsys):
    call_command("erase_pupil", BEN, "--reason", "The family asked for erasure", "--by", register_keeper.username)
    assert "no name, UPN or face" in capsys.readouterr().out
    assert Pupil.objects.get(pk=ben.pk).erased_at is not None


def test_an_erased_pupil_in_a_later_full_import_is_not_touched(ben, register_keeper):
    services.erase_pupil(ben, register_keeper, "The family asked for erasure")
    run_import(register_keeper, csv_bytes(SCHOOL[0], SCHOOL[2]))
    assert Pupil.objects.get(pk=ben.pk).legal_forename == ""


def test_a_name_found_by_the_gates_never_reaches_the_audit_trail_and_erasure_takes_it_from_the_rest(ben, register_keeper, office, facebook):
    from tests.conftest import link_draft

    name = f"{ben.legal_forename} {ben.legal_surname}"
    draft = link_draft(office, facebook, text=f"Well done to {name} on the sack race!")
    assert not drafting.submit(draft, office).passed
    failed = GateResult.objects.get(gate_id="no-personal-data", status="fail")
    assert name in failed.message  # the author is told exactly what to take out
    assert ben.legal_surname not in words_of_the_trail()  # the trail says which gate failed, not what it found
    assert "failed no-personal-data (gate run" in words_of_the_trail()

    services.erase_pupil(ben, register_keeper, "The family asked for erasure")
    failed.refresh_from_db()
    draft.refresh_from_db()
    assert name not in failed.message and "[an erased pupil]" in failed.message
    assert name not in draft.text and name not in draft.status_note
    assert AuditEntry.objects.get(action="register.pupil_erased").data["texts_scrubbed"] >= 3
    assert audit.verify()[1] is None


def test_an_erased_record_can_never_be_enrolled_again(ben, register_keeper, tmp_path):
    services.erase_pupil(ben, register_keeper, "The family asked for erasure")
    with pytest.raises(enrolment.EnrolmentRefused, match="erased"):
        enrolment.enrol(ben, [tmp_path / "any.jpg"], register_keeper)
    assert not FaceEncoding.objects.filter(pupil=ben).exists()


def certificate_naming(name: str) -> bytes:
    import io

    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (1400, 600), "white")
    ImageDraw.Draw(image).text((150, 250), f"Awarded to {name}", font=ImageFont.load_default(size=72), fill="navy")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_file_names_and_words_read_stay_out_of_the_trail_and_erasure_clears_them(ben, register_keeper, office, facebook):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import link_draft

    name = f"{ben.legal_forename} {ben.legal_surname}"
    file_name = f"{ben.legal_forename}_{ben.legal_surname.lower()}-certificate.png"
    draft = link_draft(office, facebook)
    media = drafting.add_media(draft, office, SimpleUploadedFile(file_name, certificate_naming(name)), source="Mrs Patel, scanner",
                                 rights="school", alt_text="A reading certificate")
    line = next(w for w in media.words.all() if ben.legal_surname in w.text)
    face_review.set_words_blur(line, True, office)
    trail = words_of_the_trail()
    assert ben.legal_surname not in trail and ben.legal_surname.lower() not in trail and ben.legal_forename not in trail
    assert f"Words {line.pk} in photo {media.pk} to be blurred" in trail and f"Photo {media.pk} added to draft {draft.pk}" in trail

    surname = ben.legal_surname
    services.erase_pupil(ben, register_keeper, "The family asked for erasure")
    media.refresh_from_db()
    line.refresh_from_db()
    assert media.original_name == f"photo {media.pk}.png"
    assert surname not in line.text and "[an erased pupil]" in line.text
    assert not MediaFile.objects.filter(original_name__icontains=surname).exists()
    assert audit.verify()[1] is None


def test_the_pages_show_a_files_name_beside_its_row_in_the_trail(office, facebook):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import link_draft

    draft = link_draft(office, facebook)
    media = drafting.add_media(draft, office, SimpleUploadedFile("sports-day.png", certificate_naming("Sports day")),
                                 source="Mrs Patel", rights="school", alt_text="Sports day")
    entry = AuditEntry.objects.get(action="draft.media_added")
    assert audit_summary(entry.summary) == f"Photo {media.pk} ('sports-day.png') added to draft {draft.pk}"
