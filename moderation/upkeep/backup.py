"""Backing up and restoring everything a school would lose: the database (the register, drafts,
decisions, the audit trail with its chain), the face key (without it the enrolled faces and the
platform tokens cannot be read), the site's secret key, and the files (uploads in flight,
published copies, the approver's video copies, the local outbox).

The database is written as Django's own fixture (JSON), read in one transaction so that it is
consistent, whatever the database (SQLite or PostgreSQL) and whichever it is restored into. The
files are copied after it, from their storage (the local disk or a bucket) into the backup, and
back into the storage the restored installation is configured with; a manifest lists every file with its SHA-256, checked at restore.
A backup holds the face key beside the data it protects: keep backups where only the
headteacher's delegates can read them (the folder is written with mode 0700).
"""

import gzip
import hashlib
import io
import json
import os
import shutil
import tempfile
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from config.school import crypto, files
from config.school.files import sha256_of
from config.school.models import AuditEntry, AuditSeal, School
from config.school.tenancy import scopes_disabled
from moderation.models import Draft

FORMAT = 1
# What is not worth restoring: sessions (everyone signs in again), django-axes's attempts, what
# `migrate` makes itself, and the records of background tasks (a restored worker queues again,
# from their own state, the files still waiting for analysis).
EXCLUDED = ["contenttypes", "auth.permission", "sessions", "axes", "django_tasks_database"]


class BackupError(Exception):
    pass


# The outbox (the local stand-in for a platform) is a folder; the school's files are in their
# storages (config/school/files.py), on this disk or in a bucket.
OUTBOX = "outbox"


def _dump_database() -> bytes:
    out = io.StringIO()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # One snapshot for every table: what the worker writes meanwhile is not half in it.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # Every row keeps its id (the audit chain's hashes cover the ids they name); references to
        # what `migrate` makes (content types, permissions) go by name.
        # django-rq (installed with the Redis queue) has a model for its dashboard and no table.
        excluded = EXCLUDED + (["django_rq"] if apps.is_installed("django_rq") else [])
        call_command("dumpdata", exclude=excluded, natural_foreign=True, format="exact_json", stdout=out)
    return out.getvalue().encode()


@scopes_disabled()  # the whole installation: every school's data
def backup(destination: Path) -> Path:
    """Write a backup into a new folder inside destination; returns that folder."""
    destination = Path(destination)
    folder = destination / f"backup-{timezone.now():%Y%m%d-%H%M%S}"
    folder.mkdir(parents=True)
    os.chmod(folder, 0o700)
    try:
        _write(folder)
    except BaseException as error:
        shutil.rmtree(folder, ignore_errors=True)  # never half a backup that looks whole
        if isinstance(error, Exception) and not isinstance(error, BackupError):
            raise BackupError(str(error)) from error
        raise
    return folder


def _write(folder: Path) -> None:
    database = _dump_database()
    with gzip.open(folder / "database.json.gz", "wb") as handle:
        handle.write(database)
    secrets_file = folder / "keys.json"
    secrets_file.write_text(json.dumps({"face_key": crypto.key_text(), "secret_key": settings.SECRET_KEY}))
    os.chmod(secrets_file, 0o600)
    written = {}
    for area in files.AREAS:
        for name in files.names(area):
            target = folder / "files" / area / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with files.storage(area).open(name, "rb") as source, open(target, "wb") as copy:
                    shutil.copyfileobj(source, copy, 1024 * 1024)
            except FileNotFoundError:  # deleted meanwhile (a draft published or withdrawn): not needed
                target.unlink(missing_ok=True)
                continue
            written[f"{area}/{name}"] = sha256_of(target)
    outbox = Path(settings.OUTBOX_DIR)
    for path in sorted(p for p in outbox.rglob("*") if p.is_file() and not p.name.startswith(".")) if outbox.exists() else []:
        relative = f"{OUTBOX}/{path.relative_to(outbox).as_posix()}"
        target = folder / "files" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(path, target)
        except FileNotFoundError:
            continue
        written[relative] = sha256_of(target)
    seal = AuditSeal.objects.first()
    manifest = {
        "format": FORMAT, "taken_at": timezone.now().isoformat(), "database_vendor": connection.vendor,
        "database_sha256": hashlib.sha256(database).hexdigest(), "files": written,
        "audit_entries": AuditEntry.objects.count(), "drafts": Draft.objects.count(),
        "newest_audit_seal": seal.token if seal else None,
        # Each school's trail is a chain of its own, with seals of its own.
        "newest_audit_seals": {school.slug: (newest.token if newest else None) for school in School.objects.order_by("pk")
                               for newest in [AuditSeal.objects.filter(school=school).first()]},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))  # last: a folder without it is no backup


def _check(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError) as error:
        raise BackupError(f"{folder} is not a backup of this product: its manifest cannot be read ({error}).") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} was written in backup format {manifest.get('format')}; this version reads format {FORMAT}.")
    with gzip.open(folder / "database.json.gz", "rb") as handle:
        database = handle.read()
    if hashlib.sha256(database).hexdigest() != manifest["database_sha256"]:
        raise BackupError("The database in the backup does not match its manifest: the backup is damaged. Nothing was restored.")
    for relative, digest in manifest["files"].items():
        path = folder / "files" / relative
        if not path.exists() or sha256_of(path) != digest:
            raise BackupError(f"The file {relative} in the backup is missing or damaged. Nothing was restored.")
    return manifest


@scopes_disabled()  # the whole installation: every school's data
def restore(folder: Path) -> dict:
    """Put a backup back into an empty installation (as configured: its database and data
    folder). Refuses, changing nothing, when the backup is damaged or the installation is not empty."""
    folder = Path(folder)
    manifest = _check(folder)
    call_command("migrate", interactive=False, verbosity=0)
    from django.contrib.auth import get_user_model

    if get_user_model().objects.exists() or AuditEntry.objects.exists():
        raise BackupError("This installation already has accounts or an audit trail: restore only into an empty one "
                          "(a new database and data folder). Nothing was restored.")
    keys = json.loads((folder / "keys.json").read_text())
    key_file = Path(settings.FACE_KEY_FILE)
    write_key = not (getattr(settings, "FACE_KEY", "") or "").strip()
    if write_key and key_file.exists() and key_file.read_text().strip() != keys["face_key"]:
        raise BackupError(f"{key_file} holds another face key: move it aside first. Nothing was restored.")
    with tempfile.TemporaryDirectory(prefix="restore-") as scratch:
        fixture = Path(scratch) / "database.exact_json"
        with gzip.open(folder / "database.json.gz", "rb") as source, fixture.open("wb") as target:
            shutil.copyfileobj(source, target)
        try:
            call_command("loaddata", str(fixture), verbosity=0)  # one transaction: all or nothing
        except CommandError as error:
            raise BackupError(f"The database could not be loaded ({error}). Nothing was restored.") from None
    for relative in manifest["files"]:
        area, name = relative.split("/", 1)
        if area == OUTBOX:
            target = Path(settings.OUTBOX_DIR) / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(folder / "files" / relative, target)
            continue
        with open(folder / "files" / relative, "rb") as source:
            files.store(area, name, source)
    # The keys last, once the data they open is back.
    if write_key:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(keys["face_key"] + "\n")
    if not os.environ.get("DJANGO_SECRET_KEY"):
        fd = os.open(Path(settings.DATA_DIR) / "secret_key", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(keys["secret_key"])
    return manifest
