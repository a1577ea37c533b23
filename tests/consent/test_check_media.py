"""check_media: detection, matching against the register, metadata, the verdict and the exit status."""

import datetime
import functools
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core.management import call_command
from PIL import Image, ImageOps

from config.school import crypto
from consent.models import BiometricConsent, FaceEncoding, PhotoConsent, Pupil
from pixels import detection, photos, recognition
from tests.bad_files import BAD_FILES

TESTDATA = Path(__file__).resolve().parents[3] / "shared" / "testdata"
ENROL = TESTDATA / "faces" / "enrol"
POSTS = TESTDATA / "faces" / "posts"

pytestmark = pytest.mark.skipif(not TESTDATA.exists(), reason=f"the labelled test data is not at {TESTDATA}")

CONSENT_DAY = datetime.date(2026, 9, 10)


@functools.cache
def encoding_of(photo: Path) -> np.ndarray:
    """The enrolment encoding of a one-person photo."""
    image = photos.load_image(photo)
    (face,) = detection.detect_faces(image)
    return recognition.encode(image, face)


def add_pupil(upn, forename, photo, *, facebook=True, youtube=False, facebook_withdrawn=None, biometric_withdrawn=None):
    pupil = Pupil.objects.create(upn=upn, legal_forename=forename, legal_surname="Testpupil", year_group="Year 5")
    BiometricConsent.objects.create(
        pupil=pupil, parent_consent=True, given_on=CONSENT_DAY, form_reference="BIO", withdrawn_on=biometric_withdrawn
    )
    for kind, given in (("facebook", facebook), ("youtube", youtube)):
        PhotoConsent.objects.create(
            pupil=pupil, channel_kind=kind, given=given, given_on=CONSENT_DAY if given else None, form_reference="PC",
            withdrawn_on=facebook_withdrawn if kind == "facebook" else None,
        )
    FaceEncoding.objects.create(pupil=pupil, encrypted=crypto.encrypt_encoding(encoding_of(photo)), model=recognition.MODEL_ID, source_sha256="0" * 64)
    return pupil


@pytest.fixture
def register(db, settings, tmp_path):
    """Made-up pupils standing in for the people of the test data."""
    settings.FACE_KEY = Fernet.generate_key().decode()
    settings.FACE_KEY_FILE = tmp_path / "no-such-face.key"
    return {
        "ada": add_pupil("A123456789012", "Ada", ENROL / "obama" / "obama.jpg"),  # Facebook only
        "bea": add_pupil("A123456789013", "Bea", ENROL / "biden" / "biden.jpg", youtube=True),  # both
        "cal": add_pupil("A123456789014", "Cal", ENROL / "alex_lacamoire" / "img1.jpg", facebook_withdrawn=datetime.date(2026, 10, 1)),
        "dee": add_pupil("A123456789015", "Dee", ENROL / "rose_leslie" / "img1.jpg", biometric_withdrawn=datetime.date(2026, 10, 1)),
    }


def check(*args):
    out = io.StringIO()
    try:
        call_command("check_media", *[str(a) for a in args], stdout=out)
        code = 0
    except SystemExit as stop:
        code = stop.code
    return code, out.getvalue()


def check_json(*args):
    code, out = check(*args, "--json")
    assert out.count("\n") <= 1  # exactly one JSON object, on one line
    return code, json.loads(out)


def test_every_face_consented_passes_with_exit_0_and_the_exact_json_shape(register):
    code, report = check_json("--channel", "facebook", POSTS / "two_people.jpg")

    assert code == 0 and report["verdict"] == "pass"
    assert set(report) == {"verdict", "files"}
    (entry,) = report["files"]
    assert set(entry) == {"file", "error", "faces", "metadata"}
    assert entry["file"] == str(POSTS / "two_people.jpg") and entry["error"] is None
    assert [(f["status"], f["upn"]) for f in sorted(entry["faces"], key=lambda f: f["box"][3])] == [
        ("consented", "A123456789012"), ("consented", "A123456789013")]
    for face in entry["faces"]:
        assert set(face) == {"box", "status", "upn", "distance"}
        top, right, bottom, left = face["box"]
        assert all(isinstance(v, int) for v in face["box"]) and 0 <= left < right and 0 <= top < bottom
        assert isinstance(face["distance"], float) and face["distance"] <= recognition.setting("FACE_MATCH_CONFIDENT")


def test_a_pupil_without_consent_for_the_channel_fails_with_exit_1(register):
    code, report = check_json("--channel", "youtube", POSTS / "two_people.jpg")
    assert code == 1 and report["verdict"] == "fail"
    statuses = {f["upn"]: f["status"] for f in report["files"][0]["faces"]}
    assert statuses == {"A123456789012": "no-consent", "A123456789013": "consented"}


def test_withdrawn_photo_consent_is_no_consent_and_the_metadata_is_named(register):
    code, report = check_json("--channel", "facebook", POSTS / "alex_lacamoire1.jpg")
    assert code == 1 and report["verdict"] == "fail"
    (face,) = report["files"][0]["faces"]
    assert (face["status"], face["upn"]) == ("no-consent", "A123456789014")
    assert report["files"][0]["metadata"] == ["EXIF", "XMP", "IPTC", "device"]


def test_strangers_in_a_group_photo_are_unknown_and_fail(register):
    code, report = check_json("--channel", "facebook", POSTS / "2008_002470.jpg")
    assert code == 1 and report["verdict"] == "fail"
    assert [f["status"] for f in report["files"][0]["faces"]] == ["unknown"] * 6
    assert all(f["upn"] is None for f in report["files"][0]["faces"])


def test_a_match_that_is_not_confident_asks_for_review(register, settings):
    # Between the two faces' distances from their enrolments: the nearer one stays confident.
    _, before = check_json("--channel", "facebook", POSTS / "two_people.jpg")
    nearer, further = sorted(f["distance"] for f in before["files"][0]["faces"])
    settings.FACE_MATCH_CONFIDENT = (nearer + further) / 2
    code, report = check_json("--channel", "facebook", POSTS / "two_people.jpg")
    assert code == 1 and report["verdict"] == "review"
    assert sorted(f["status"] for f in report["files"][0]["faces"]) == ["consented", "uncertain"]


def test_encodings_that_should_have_been_erased_are_never_used(register):
    # Bea's biometric consent is withdrawn (her encodings not yet erased), and Ada leaves.
    BiometricConsent.objects.filter(pupil=register["bea"]).update(withdrawn_on=datetime.date(2026, 11, 1))
    Pupil.objects.filter(pk=register["ada"].pk).update(on_roll=False, left_on=datetime.date(2026, 11, 1))
    code, report = check_json("--channel", "facebook", POSTS / "two_people.jpg")
    assert code == 1
    assert [(f["status"], f["upn"]) for f in report["files"][0]["faces"]] == [("unknown", None), ("unknown", None)]


def test_a_photo_without_faces_passes(register, tmp_path):
    # The top of dogs.jpg: four dogs, and no human face.
    with Image.open(POSTS / "dogs.jpg") as image:
        image.crop((0, 0, image.width, 400)).save(tmp_path / "dogs-top.jpg")
    code, report = check_json("--channel", "facebook", tmp_path / "dogs-top.jpg")
    assert (code, report["verdict"], report["files"][0]["faces"]) == (0, "pass", [])


def test_a_face_lying_on_its_side_behind_the_dogs_is_unknown_and_fails(register):
    code, report = check_json("--channel", "facebook", POSTS / "dogs.jpg")
    assert (code, report["verdict"]) == (1, "fail")
    found = report["files"][0]["faces"]
    (lying,) = [f for f in found if f["box"][0] > 440 and f["box"][1] < 150]  # the printed face behind the dog
    assert lying["status"] == "unknown"
    # The second detector takes two of the dogs' faces for faces: they are reported too, for a person to look at.
    assert len(found) == 3 and all(f["status"] == "unknown" for f in found)


def test_a_heic_photo_is_checked_like_any_other(register, tmp_path):
    with Image.open(POSTS / "two_people.jpg") as image:
        ImageOps.exif_transpose(image).convert("RGB").save(tmp_path / "IMG_0002.heic", "HEIF", quality=90)
    code, report = check_json("--channel", "facebook", tmp_path / "IMG_0002.heic")
    assert (code, report["verdict"]) == (0, "pass")


def test_each_bad_file_is_named_with_what_is_wrong_the_others_are_checked_and_exit_is_2(register, tmp_path):
    paths = []
    for name, make, _ in BAD_FILES:
        (tmp_path / name).write_bytes(make())
        paths.append(tmp_path / name)
    code, report = check_json("--channel", "facebook", *paths, POSTS / "dogs.jpg")

    assert code == 2 and report["verdict"] == "fail"
    by_file = {Path(f["file"]).name: f for f in report["files"]}
    for name, _, message in BAD_FILES:
        assert by_file[name]["error"] and name in by_file[name]["error"] and message in by_file[name]["error"], (name, by_file[name])
        assert by_file[name]["faces"] == [] and by_file[name]["metadata"] == []
    assert by_file["dogs.jpg"]["error"] is None


def test_a_missing_file_is_unreadable_input(register, tmp_path):
    code, report = check_json("--channel", "facebook", tmp_path / "nowhere.jpg")
    assert code == 2 and "'" + str(tmp_path / "nowhere.jpg") + "' does not exist" in report["files"][0]["error"]


def test_without_json_it_says_what_it_found_in_words(register):
    code, out = check("--channel", "youtube", POSTS / "two_people.jpg")
    assert code == 1
    assert "two_people.jpg: 2 faces; no metadata" in out
    assert "no-consent A123456789012" in out and out.strip().endswith("Verdict: fail")


def test_usage_errors_exit_2(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("DATABASE_URL", None)
    for args in (["--channel", "twitter", str(POSTS / "dogs.jpg")], ["--channel", "facebook"], [str(POSTS / "dogs.jpg")]):
        result = subprocess.run(
            [sys.executable, "manage.py", "check_media", *args], cwd=django_settings.BASE_DIR, env=env,
            capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 2, (args, result.stderr)
        assert result.stdout == ""
