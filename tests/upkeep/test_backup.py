"""Backups: everything a school would lose, written by `backup` and put back by `restore` into an
empty data folder, after which the product works: people sign in, the audit chain verifies and
the enrolled faces still match."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.conf import settings

SIGN_IN = ("from django.contrib.auth import get_user_model\n"
           "print('signed in' if get_user_model().objects.get(username='office').check_password('aycliffe-demo-2026') else 'refused')")
IN_THE_SCHOOL = ("from config.school.tenancy import first_school, in_school\n"
                 "school_scope = in_school(first_school()); school_scope.__enter__()  # a school's data is read in its scope\n")
MATCH = IN_THE_SCHOOL + (
    "from consent import faces\nfrom pixels import detection, photos\n"
    "image = photos.load_image('moderation/demo/enrol-barry.jpg')\n"
    "[m] = faces.match(image, detection.detect_faces(image), 'facebook')\nprint('match', m.status)"
)


def manage(data_dir, *args):
    # A school's own installation: SQLite in its data folder, the face key in a file there.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "FACE_ENCRYPTION")) and k != "DATABASE_URL"}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env={**env, "DATA_DIR": str(data_dir)},
                          capture_output=True, text=True, timeout=600)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    """A school's installation with the demo data and one enrolled face, and a backup of it.
    Run once, in the SQLite run: it is its own installation whatever database the suite uses."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("a school's own installation on SQLite: tried once, in the SQLite run")
    root = tmp_path_factory.mktemp("backup")
    data, backups = root / "school", root / "backups"
    for step in (("migrate", "--noinput"), ("create_face_key",), ("seed_demo",)):
        ok(manage(data, *step))
    assert "match consented" in ok(manage(data, "shell", "-c", MATCH))
    out = ok(manage(data, "backup", str(backups)))
    [folder] = list(backups.iterdir())
    assert "Backed up into" in out
    return data, folder


def test_a_backup_restored_into_an_empty_data_folder_works(school, tmp_path):
    data, folder = school
    elsewhere = tmp_path / "new-server"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["drafts"] > 0 and any(name.startswith("uploads/") for name in manifest["files"])

    restored = ok(manage(elsewhere, "restore", str(folder)))
    assert "the audit trail is whole" in restored
    assert "signed in" in ok(manage(elsewhere, "shell", "-c", SIGN_IN))
    assert "whole" in ok(manage(elsewhere, "verify_audit"))
    assert "match consented" in ok(manage(elsewhere, "shell", "-c", MATCH))  # the face key came back with the faces
    uploads = sorted(p.name for p in (elsewhere / "uploads").iterdir())
    assert uploads == sorted(p.name for p in (data / "uploads").iterdir())


def test_a_damaged_backup_is_refused_and_nothing_is_restored(school, tmp_path):
    _, original = school
    folder = tmp_path / original.name
    shutil.copytree(original, folder)
    upload = next((folder / "files" / "uploads").iterdir())
    upload.write_bytes(b"not the photo")
    elsewhere = tmp_path / "new-server"
    result = manage(elsewhere, "restore", str(folder))
    assert result.returncode == 1 and "missing or damaged" in result.stderr
    assert not (elsewhere / "face.key").exists()


def test_a_backup_is_never_restored_over_an_installation_in_use(school):
    data, folder = school
    result = manage(data, "restore", str(folder))
    assert result.returncode == 1 and "already has accounts" in result.stderr
