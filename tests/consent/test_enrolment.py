"""Enrolment: only with biometric consent and no objection, one face a photo, encrypted, all or nothing."""

import datetime
import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from config.school import crypto
from config.school.models import AuditEntry
from consent import faces
from consent.enrolment import EnrolmentRefused, enrol
from consent.models import BiometricConsent, FaceEncoding, Pupil
from pixels import detection, photos, recognition

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
ENROL = TESTDATA / "faces" / "enrol"
POSTS = TESTDATA / "faces" / "posts"

pytestmark = pytest.mark.skipif(not TESTDATA.exists(), reason=f"the labelled test data is not at {TESTDATA}")


@pytest.fixture(autouse=True)
def face_key(settings, tmp_path):
    settings.FACE_KEY = Fernet.generate_key().decode()
    settings.FACE_KEY_FILE = tmp_path / "no-such-face.key"
    return settings.FACE_KEY


def pupil(upn, forename, *, consent=True, objects=False, withdrawn=None, on_roll=True, biometric_row=True):
    record = Pupil.objects.create(upn=upn, legal_forename=forename, legal_surname="Testpupil", year_group="Year 5", on_roll=on_roll)
    if biometric_row:
        BiometricConsent.objects.create(
            pupil=record, parent_consent=consent, given_on=datetime.date(2026, 9, 10) if consent else None,
            form_reference="BIO-1", withdrawn_on=withdrawn, pupil_objects=objects,
        )
    return record


@pytest.fixture
def ada(db):
    return pupil("A123456789012", "Ada")


def test_a_pupil_with_consent_is_enrolled_encrypted_and_audited(ada, register_keeper):
    rows = enrol(ada, [ENROL / "obama" / "obama.jpg", ENROL / "obama" / "obama2.jpg"], register_keeper)

    assert len(rows) == FaceEncoding.objects.filter(pupil=ada).count() == 2
    image = photos.load_image(ENROL / "obama" / "obama.jpg")
    expected = recognition.encode(image, detection.detect_faces(image)[0])
    stored = FaceEncoding.objects.filter(pupil=ada).order_by("pk").first()
    assert expected.astype("<f8").tobytes() not in bytes(stored.encrypted)  # never in plain text
    assert np.allclose(crypto.decrypt_encoding(stored.encrypted), expected)
    assert stored.created_by == register_keeper and len(stored.source_sha256) == 64
    entry = AuditEntry.objects.get(action="faces.enrolled")
    assert entry.actor == register_keeper
    assert entry.data == {"pupil": ada.pk, "count": 2, "model": recognition.MODEL_ID, "replaced": 0}


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"biometric_row": False}, "no record of written parental consent to biometric processing"),
        ({"consent": False}, "no current written parental consent to biometric processing"),
        ({"withdrawn": datetime.date(2026, 10, 1)}, "no current written parental consent to biometric processing"),
        ({"objects": True}, "The pupil objects to biometric processing"),
        ({"on_roll": False}, "The pupil has left the school"),
    ],
    ids=["no consent recorded", "parent said no", "consent withdrawn", "pupil objects", "left"],
)
def test_without_biometric_consent_or_with_an_objection_nothing_is_enrolled(db, register_keeper, kwargs, reason):
    refused_pupil = pupil("A123456789013", "Bea", **kwargs)
    with pytest.raises(EnrolmentRefused, match=reason):
        enrol(refused_pupil, [ENROL / "biden" / "biden.jpg"], register_keeper)
    assert not FaceEncoding.objects.exists()
    assert not AuditEntry.objects.filter(action="faces.enrolled").exists()


def dogs_only(folder):
    """The top of dogs.jpg: four dogs and no human face."""
    from PIL import Image

    with Image.open(POSTS / "dogs.jpg") as image:
        image.crop((0, 0, image.width, 400)).save(folder / "dogs.jpg")
    return folder / "dogs.jpg"


@pytest.mark.parametrize("photo, says", [("dogs", "'dogs.jpg' shows no face"), (POSTS / "two_people.jpg", "'two_people.jpg' shows 2 faces")])
def test_a_photo_without_exactly_one_face_is_refused_and_nothing_is_stored(ada, register_keeper, photo, says, tmp_path):
    photo = dogs_only(tmp_path) if photo == "dogs" else photo
    with pytest.raises(EnrolmentRefused, match=says):
        enrol(ada, [ENROL / "obama" / "obama.jpg", photo], register_keeper)  # the good photo is not kept either
    assert not FaceEncoding.objects.exists()


def test_an_unreadable_photo_is_refused_by_name(ada, register_keeper, tmp_path):
    broken = tmp_path / "ada.jpg"
    broken.write_bytes(b"")
    with pytest.raises(EnrolmentRefused, match="'ada.jpg' is empty"):
        enrol(ada, [broken], register_keeper)
    assert not FaceEncoding.objects.exists()


def test_photos_of_two_different_people_are_refused(ada, register_keeper):
    with pytest.raises(EnrolmentRefused, match="do not look like the same person"):
        enrol(ada, [ENROL / "obama" / "obama.jpg", ENROL / "biden" / "biden.jpg"], register_keeper)
    assert not FaceEncoding.objects.exists()


def test_a_face_already_enrolled_for_another_pupil_is_refused(ada, register_keeper):
    enrol(ada, [ENROL / "obama" / "obama.jpg"], register_keeper)
    other = pupil("A123456789014", "Cal")
    with pytest.raises(EnrolmentRefused, match="looks like pupil A123456789012, who is already enrolled"):
        enrol(other, [ENROL / "obama" / "obama2.jpg"], register_keeper)
    assert not FaceEncoding.objects.filter(pupil=other).exists()


def test_the_same_photo_is_not_enrolled_twice(ada, register_keeper):
    enrol(ada, [ENROL / "obama" / "obama.jpg"], register_keeper)
    with pytest.raises(EnrolmentRefused, match="already enrolled for A123456789012"):
        enrol(ada, [ENROL / "obama" / "obama.jpg"], register_keeper)
    assert FaceEncoding.objects.filter(pupil=ada).count() == 1


def test_only_the_register_keeper_may_enrol(ada, office):
    with pytest.raises(PermissionDenied):
        enrol(ada, [ENROL / "obama" / "obama.jpg"], office)
    assert not FaceEncoding.objects.exists()


def test_without_a_key_nothing_is_stored_and_the_error_says_what_to_do(ada, register_keeper, settings):
    settings.FACE_KEY = ""
    with pytest.raises(crypto.FaceKeyError, match="create_face_key"):
        enrol(ada, [ENROL / "obama" / "obama.jpg"], register_keeper)
    assert not FaceEncoding.objects.exists()


# --- The key file ----------------------------------------------------------------------------------


def test_create_face_key_makes_a_private_key_file_once(settings, tmp_path):
    settings.FACE_KEY = ""
    settings.FACE_KEY_FILE = tmp_path / "data" / "face.key"
    out = io.StringIO()
    call_command("create_face_key", stdout=out)
    key = settings.FACE_KEY_FILE.read_text()
    assert stat.S_IMODE(os.stat(settings.FACE_KEY_FILE).st_mode) == 0o600
    Fernet(key.strip().encode())  # a valid key
    assert "Created" in out.getvalue()
    call_command("create_face_key", stdout=out)
    assert settings.FACE_KEY_FILE.read_text() == key
    assert "nothing changed" in out.getvalue()
    token = crypto.encrypt_encoding(np.zeros(128))
    assert np.array_equal(crypto.decrypt_encoding(token), np.zeros(128))


def test_a_key_file_others_can_read_is_refused(settings, tmp_path):
    settings.FACE_KEY = ""
    settings.FACE_KEY_FILE = tmp_path / "face.key"
    settings.FACE_KEY_FILE.write_text(Fernet.generate_key().decode())
    os.chmod(settings.FACE_KEY_FILE, 0o644)
    with pytest.raises(crypto.FaceKeyError, match="chmod 600"):
        crypto.encrypt_encoding(np.zeros(128))


def test_a_changed_key_is_a_clear_error_and_the_old_key_can_be_kept_for_reading(settings):
    old = settings.FACE_KEY
    token = crypto.encrypt_encoding(np.ones(128))
    settings.FACE_KEY = Fernet.generate_key().decode()
    with pytest.raises(crypto.FaceKeyError, match="cannot be decrypted with the current key"):
        crypto.decrypt_encoding(token)
    settings.FACE_KEY = f"{settings.FACE_KEY},{old}"
    assert np.array_equal(crypto.decrypt_encoding(token), np.ones(128))


# --- The command -----------------------------------------------------------------------------------


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("enrol_faces", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as stop:
        code = stop.code
    return code, out.getvalue(), err.getvalue()


def test_enrol_faces_enrols_and_says_so(ada, register_keeper):
    code, out, _ = run("A123456789012", str(ENROL / "biden" / "biden.jpg"), "--user", "register")
    assert code == 0 and "Enrolled 1 face for A123456789012" in out
    assert FaceEncoding.objects.get(pupil=ada).created_by == register_keeper


def test_enrol_faces_refuses_without_consent_exits_non_zero_and_stores_nothing(db):
    pupil("A123456789015", "Dee", objects=True)
    code, _, err = run("A123456789015", str(ENROL / "biden" / "biden.jpg"))
    assert code == 1
    assert "Not enrolled: A123456789015 cannot be enrolled: The pupil objects to biometric processing" in err
    assert not FaceEncoding.objects.exists()


def test_enrol_faces_names_an_unknown_pupil(db):
    code, _, err = run("Z999999999999", str(ENROL / "biden" / "biden.jpg"))
    assert code == 2 and "no pupil with UPN Z999999999999" in err


# --- Encodings of an older face model ---------------------------------------------------------------


def older_encoding(pupil, photo):
    """A face enrolled before the engine changed: dlib's 128 numbers, tagged with dlib's model."""
    from pixels import dlib_engine

    image = photos.load_image(photo)
    (face,) = detection.detect_faces(image)
    return FaceEncoding.objects.create(
        pupil=pupil, encrypted=crypto.encrypt_encoding(dlib_engine.encode(image, face.box)), model=dlib_engine.MODEL_ID,
        source_sha256="1" * 64,
    )


def test_encodings_of_an_older_face_model_are_never_matched(ada):
    from consent.models import PhotoConsent

    PhotoConsent.objects.create(pupil=ada, channel_kind="facebook", given=True, given_on=datetime.date(2026, 9, 10), form_reference="P-1")
    older_encoding(ada, ENROL / "obama" / "obama.jpg")
    register = faces.Register.load("facebook")
    assert len(register) == 0  # Ada is not recognised: the reviewer identifies her by hand
    image = photos.load_image(POSTS / "obama_small.jpg")
    assert [m.status for m in faces.match(image, detection.detect_faces(image), "facebook", register)] == ["unknown"]


def test_a_pupil_enrolled_with_an_older_model_is_listed_to_enrol_again(ada, register_keeper, client):
    from consent import services

    older_encoding(ada, ENROL / "obama" / "obama.jpg")
    assert services.to_enrol_again(register_keeper) == [ada]
    client.force_login(register_keeper)
    page = client.get("/register/").content.decode()
    assert "To enrol again: 1 pupil" in page and "Ada Testpupil" in page and "enrol again" in page


def test_enrolling_again_replaces_the_older_models_encodings(ada, register_keeper):
    from consent import services

    older_encoding(ada, ENROL / "obama" / "obama.jpg")
    enrol(ada, [ENROL / "obama" / "obama.jpg"], register_keeper)  # the same photo may be enrolled again
    assert list(FaceEncoding.objects.filter(pupil=ada).values_list("model", flat=True)) == [recognition.MODEL_ID]
    assert services.to_enrol_again(register_keeper) == []
    assert AuditEntry.objects.get(action="faces.enrolled").data["replaced"] == 1
