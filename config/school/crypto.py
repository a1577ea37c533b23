"""Encryption of face encodings, and of face crops kept for review, at rest (Fernet, from the
`cryptography` package).

The key comes from settings.FACE_KEY (the environment's FACE_ENCRYPTION_KEY) or, when that is
empty, from the file settings.FACE_KEY_FILE, which `python manage.py create_face_key` makes
with mode 0600. With neither there is no key, and nothing is stored: an encoding is never
written in plain text.

Several keys may be given, separated by commas: the first encrypts, every one decrypts, so a
key can be rotated without losing the enrolled faces.

Each school encrypts with a key of its own, derived from the installation's key and the school
(HKDF-SHA256): in one school's scope another school's encodings, crops and platform tokens cannot
even be decrypted. The first school also still reads what was encrypted with the installation's
key itself, before there could be several schools. One key is still all there is to keep safe.
"""

import base64
import os
import stat
from pathlib import Path

import numpy as np
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.school.models import School
from config.school.scoping import current_school_id

# One encoding: 128 little-endian float64 values.
ENCODING_LENGTH = 128
_DTYPE = np.dtype("<f8")


class FaceKeyError(ImproperlyConfigured):
    """There is no usable key for the face encodings. The message says what to do."""


def _key_file() -> Path:
    return Path(settings.FACE_KEY_FILE)


def _read_key_text() -> tuple[str, str]:
    """The key text and where it came from."""
    from_env = (getattr(settings, "FACE_KEY", "") or "").strip()
    if from_env:
        return from_env, "FACE_ENCRYPTION_KEY"
    path = _key_file()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise FaceKeyError(
            f"There is no key for the face encodings: FACE_ENCRYPTION_KEY is not set and the key file {path} "
            "does not exist. Run `python manage.py create_face_key` (make run does), or set FACE_ENCRYPTION_KEY. "
            "Nothing was stored."
        ) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise FaceKeyError(
            f"The face key file {path} can be read by other users (mode {stat.S_IMODE(mode):04o}). "
            f"Run `chmod 600 {path}` and try again."
        )
    return path.read_text().strip(), str(path)


def key_text() -> str:
    """The key (or keys, comma-separated) as configured: what a backup must keep."""
    return _read_key_text()[0]


def school_key(key: str, school_id: int) -> bytes:
    """One school's own Fernet key, derived from one of the installation's keys."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=f"face encodings and tokens of school {school_id}".encode()).derive(base64.urlsafe_b64decode(key))
    return base64.urlsafe_b64encode(derived)


def fernet() -> MultiFernet:
    """The keys of the school in scope (the installation's own keys when no school is in scope)."""
    text, source = _read_key_text()
    keys = [part.strip() for part in text.split(",") if part.strip()]
    if not keys:
        raise FaceKeyError(f"The face encryption key from {source} is empty.")
    try:
        installation = [Fernet(key.encode()) for key in keys]
        school_id = current_school_id()
        if school_id is None:
            return MultiFernet(installation)
        own = [Fernet(school_key(key, school_id)) for key in keys]
        first = School.objects.order_by("pk").values_list("pk", flat=True).first()
        return MultiFernet(own + (installation if school_id == first else []))
    except (ValueError, TypeError):
        raise FaceKeyError(
            f"The face encryption key from {source} is not a valid Fernet key (32 url-safe base64-encoded bytes). "
            "Make one with `python manage.py create_face_key`."
        ) from None


def require_key() -> None:
    """Raise FaceKeyError now, before any work, when encodings could not be stored."""
    fernet()


def encrypt_encoding(encoding, box: MultiFernet | None = None) -> bytes:
    vector = np.asarray(encoding, dtype=_DTYPE).reshape(-1)
    if vector.shape != (ENCODING_LENGTH,) or not np.all(np.isfinite(vector)):
        raise ValueError("A face encoding is 128 finite numbers.")
    return (box or fernet()).encrypt(vector.tobytes())


def decrypt_encoding(token: bytes, box: MultiFernet | None = None) -> np.ndarray:
    try:
        plain = (box or fernet()).decrypt(bytes(token))
    except InvalidToken:
        raise FaceKeyError(
            "An enrolled face cannot be decrypted with the current key: the key was changed or lost. "
            "Restore the old key (it can be listed after the new one, separated by a comma), or erase and re-enrol the faces."
        ) from None
    vector = np.frombuffer(plain, dtype=_DTYPE)
    if vector.shape != (ENCODING_LENGTH,):
        raise FaceKeyError("An enrolled face decrypted to something that is not a face encoding.")
    return vector.astype(np.float64)


def encrypt_picture(data: bytes, box: MultiFernet | None = None) -> bytes:
    """A face crop kept for review (a JPEG), encrypted with the face key like the encodings."""
    return (box or fernet()).encrypt(bytes(data))


def decrypt_picture(token: bytes, box: MultiFernet | None = None) -> bytes:
    try:
        return (box or fernet()).decrypt(bytes(token))
    except InvalidToken:
        raise FaceKeyError(
            "A face kept for review cannot be decrypted with the current key: the key was changed or lost. "
            "Restore the old key (it can be listed after the new one, separated by a comma)."
        ) from None


def create_key_file(path: Path | None = None) -> bool:
    """Create the key file with mode 0600 when it is missing. True when it was created."""
    path = Path(path or _key_file())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(Fernet.generate_key().decode() + "\n")
    os.chmod(path, 0o600)  # whatever the umask was
    return True
