"""Files as the school keeps them.

Three kinds of file, each kept in a Django storage of its own (settings.STORAGES), so that every
web server and every worker reaches the same files: the uploaded originals ("uploads"), the
published copies of videos made for the approver ("copies"), and the copies that were published
("published"). By default each is a folder on the local disk; for several machines, one
S3-compatible bucket (FILES_S3_BUCKET; README, "Files on several machines").

Pixel work (Pillow, PyAV, OpenCV) reads and writes files on this machine's disk. `here` gives the
path to a stored file: the stored file itself on the local disk, else a copy fetched once into
this machine's working folder (WORK_DIR), removed there once unused for WORK_FILES_HOURS and at
once when the file is removed. A new file is written at `new_file` and then `kept`: on the local
disk it is already where it belongs; with object storage it is sent to the bucket.
"""

import hashlib
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, storages

logger = logging.getLogger(__name__)

UPLOADS, COPIES, PUBLISHED = "uploads", "copies", "published"
AREAS = (UPLOADS, COPIES, PUBLISHED)
# The web server's group may read what was published (the news page); the rest only its owner.
FILE_MODES = {UPLOADS: 0o600, COPIES: 0o600, PUBLISHED: 0o640}
# How often a machine looks for working copies to remove (at most): it costs a walk of the folder.
SWEEP_EVERY_SECONDS = 600
_last_sweep = [0.0]


class StorageProblem(OSError):
    """The storage did not answer (a bucket out of reach, refused credentials): not the file's fault."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def storage_settings(folder: Path | None, area: str, file_mode: int = 0o600, *, bucket: str = "", endpoint_url=None,
                     region=None, encryption: str = "AES256", **credentials) -> dict:
    """The STORAGES entry of one kind of file: a folder on the local disk, or a folder (prefix) of
    a bucket. settings.py builds the installation's from the environment; benchmarks their own."""
    if bucket:
        # django-storages' S3Storage options: https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": bucket, "location": area, "endpoint_url": endpoint_url, "region_name": region,
            # No ACL on any object: the bucket's own policy, which must not be public. Files are
            # served only through the pages that check who asks, never by a bucket address.
            "default_acl": None, "querystring_auth": True, **credentials,
            # Names are new each time (a random part): no need to ask the bucket before writing.
            "file_overwrite": True,
            # A video read from the bucket spills to disk past 16 MB rather than filling memory.
            "max_memory_size": 16 * 1024 * 1024,
            # Encrypted at rest by the storage (SSE-S3); "" leaves it to the bucket's own default,
            # for storage that refuses the header (MinIO without a KMS).
            "object_parameters": {"ServerSideEncryption": encryption} if encryption else {},
        }}
    return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {
        "location": folder, "file_permissions_mode": file_mode, "directory_permissions_mode": 0o750}}


def on_local_disk_under(folder: Path) -> dict:
    """STORAGES entries keeping the three kinds of file in folders under one folder (a benchmark's
    own installation), as settings.py does without a bucket."""
    return {area: storage_settings(Path(folder) / area, area, FILE_MODES[area]) for area in AREAS}


def storage(area: str):
    return storages[area]


def on_local_disk(area: str) -> bool:
    return isinstance(storages[area], FileSystemStorage)


def _working_copy(area: str, name: str) -> Path:
    path = (Path(settings.WORK_DIR) / area / name).resolve()
    if Path(settings.WORK_DIR).resolve() / area not in path.parents:
        raise FileNotFoundError(f"'{name}' is not a name this installation gives its files.")
    return path


def _private_folder(path: Path) -> None:
    """The folder and those above it up to WORK_DIR, each made readable by this user only (the
    working files are pupils' pictures); folders that exist already are left as they are."""
    root = Path(settings.WORK_DIR).resolve()
    root.parent.mkdir(parents=True, exist_ok=True)
    for folder in [*reversed(path.relative_to(root).parents), path.relative_to(root)]:
        (root / folder).mkdir(mode=0o700, exist_ok=True)


def here(area: str, name: str) -> Path:
    """A path on this machine to the stored file (FileNotFoundError when it is not stored)."""
    kept_in = storages[area]
    if on_local_disk(area):
        return Path(kept_in.path(name))
    sweep_working_copies()
    path = _working_copy(area, name)
    if path.exists():
        # An original deleted on another machine is not read from this one's working copy
        # (published copies are never deleted: no need to ask).
        if area != PUBLISHED and not exists(area, name):
            path.unlink(missing_ok=True)
            raise FileNotFoundError(f"'{name}' is no longer kept.")
        os.utime(path)  # used now: kept for another WORK_FILES_HOURS
        return path
    _private_folder(path.parent)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with kept_in.open(name, "rb") as source, open(partial, "xb") as target:
            os.chmod(partial, 0o600)
            shutil.copyfileobj(source, target, 1024 * 1024)
        partial.replace(path)  # whole or not at all, whichever process fetched it first
    except OSError:  # FileNotFoundError: not stored
        raise
    except Exception as error:
        raise StorageProblem(f"the file storage did not give '{name}' ({_said(error)}).") from error
    finally:
        partial.unlink(missing_ok=True)
    return path


def folder(area: str) -> Path:
    """The folder on this machine under which `new_file` writes this kind of file."""
    return Path(storages[area].location if on_local_disk(area) else Path(settings.WORK_DIR) / area).resolve()


def new_file(area: str, name: str) -> Path:
    """Where to write a new file of this name on this machine, made empty and readable by this user
    only (writing into it keeps that); `keep` it once it is written."""
    path = _written(area, name)
    if on_local_disk(area):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    else:
        _private_folder(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    path.chmod(0o600)  # a file of that name already there (a partial file about to be replaced) too
    return path


def _written(area: str, name: str) -> Path:
    """The file written at new_file(area, name)."""
    return Path(storages[area].path(name)) if on_local_disk(area) else _working_copy(area, name)


def name_of(area: str, path: Path) -> str:
    """The stored name of a file written at new_file(area, name)."""
    return Path(path).resolve().relative_to(folder(area)).as_posix()


def keep(area: str, name: str) -> None:
    """The file written at new_file(area, name) is stored where every machine reaches it."""
    kept_in = storages[area]
    path = _written(area, name)
    if on_local_disk(area):
        # Readable by those the storage names (settings.STORAGES), whatever this process's umask.
        path.chmod(kept_in.file_permissions_mode or 0o600)
        parent, root = path.parent, Path(kept_in.location).resolve()
        while parent != root and root in parent.parents:
            parent.chmod(kept_in.directory_permissions_mode or 0o700)
            parent = parent.parent
        return
    try:
        with open(path, "rb") as handle:
            stored = kept_in.save(name, File(handle, name=name))
    except Exception as error:
        raise StorageProblem(f"the file storage did not take it ({_said(error)}).") from error
    if stored != name:  # the names are new (a random part), so a bucket never renames one
        kept_in.delete(stored)
        raise OSError(f"The storage kept '{name}' as '{stored}'.")
    sweep_working_copies()


def store(area: str, name: str, source) -> None:
    """A file read from `source` (an open binary file) is stored under this name."""
    path = new_file(area, name)
    with open(path, "wb") as target:
        shutil.copyfileobj(source, target, 1024 * 1024)
    keep(area, name)


def names(area: str, under: str = "", half_written: bool = False):
    """Every stored file's name (those starting with a dot, half-written, left out unless asked for)."""
    try:
        folders, found = storages[area].listdir(under)
    except FileNotFoundError:  # a folder on the local disk that nothing was written into yet
        return
    for each in sorted(found):
        if half_written or not each.startswith("."):
            yield f"{under}/{each}" if under else each
    for each in sorted(folders):
        yield from names(area, f"{under}/{each}" if under else each, half_written)


def exists(area: str, name: str) -> bool:
    try:
        return bool(name) and storages[area].exists(name)
    except Exception as error:
        raise StorageProblem(f"the file storage did not answer ({_said(error)}).") from error


def _said(error: Exception) -> str:
    """What went wrong, in a line: boto's errors carry their own words."""
    return f"{error.__class__.__name__}: {error}"[:300]


def remove(area: str, name: str) -> bool:
    """The stored file, and this machine's working copy of it, are deleted (nothing if neither
    exists). A storage that does not answer leaves the file to the worker's tidy round, which
    deletes every file nothing needs (moderation/upkeep/stray_files.py): False then, and a warning in the log."""
    if not name:
        return True
    if on_local_disk(area):
        Path(storages[area].path(name)).unlink(missing_ok=True)
        return True
    _working_copy(area, name).unlink(missing_ok=True)
    try:
        storages[area].delete(name)
    except Exception as error:
        logger.warning("%s/%s was not deleted from the file storage (%s): the tidy round deletes it", area, name, _said(error))
        return False
    return True


def remove_folder(area: str, under: str) -> None:
    """A folder that new_file wrote into on this machine, with what is in it, is deleted here."""
    shutil.rmtree(folder(area) / under, ignore_errors=True)


def sweep_working_copies(force: bool = False) -> int:
    """Working files unused for WORK_FILES_HOURS are deleted from this machine (copies fetched from
    the bucket, and what a stopped process left): an original removed on another machine is not
    kept here for long. Returns how many were deleted."""
    now = time.time()
    if not force and now - _last_sweep[0] < SWEEP_EVERY_SECONDS:
        return 0
    _last_sweep[0] = now
    oldest = now - settings.WORK_FILES_HOURS * 3600
    deleted = 0
    root = Path(settings.WORK_DIR)
    for path in sorted(root.rglob("*"), reverse=True):  # a folder's files before the folder
        try:
            if path.stat().st_mtime >= oldest:
                continue
            if path.is_dir():
                if path.parent == root:  # each kind's own folder stays: another process may write into it now
                    continue
                if not any(path.iterdir()):
                    path.rmdir()
            else:
                path.unlink()
                deleted += 1
        except OSError:  # removed or written meanwhile by another process
            continue
    return deleted
