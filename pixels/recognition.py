"""Who a face is: SFace encodings, compared with the enrolled faces of a register.

SFace (OpenCV Zoo's ONNX model, run by `cv2.FaceRecognizerSF`) turns a face, aligned on YuNet's
five landmarks to 112 x 112 px, into 128 numbers; they are scaled to length 1 here, so the
distance between two faces is the Euclidean distance of unit vectors (0 the same picture, about
1.41 unrelated; SFace's own cut-off, cosine 0.363, is 1.13). Encodings are model-specific:
MODEL_ID is stored with each enrolled face, and a face is only ever compared with encodings of
the same model.

A face is `consented` only when it is near one pupil (FACE_MATCH_CONFIDENT), clearly nearer
than any other pupil (FACE_MATCH_MARGIN), wide enough to judge (FACE_MIN_IDENTIFY_PX) and
aligned on its landmarks; up to FACE_MATCH_POSSIBLE it is `uncertain` and a person decides;
beyond, `unknown`. The bands were set from the distances `python manage.py bench` prints.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from pixels import weights
from pixels.config import setting as _setting
from pixels.detection import Found, landmarks_near, neighbourhood
from pixels.photos import _to_rgb

MODEL_ID = "sface-2021dec"
ENCODING_LENGTH = 128

# Measured on the labelled data (`manage.py bench`): the same person in another photo (stills
# and video frames) at most 0.97 apart; strangers at least 1.13 (the closest pairs are small
# faces of the group photos). Children are known to look more alike to such models than adults,
# and a school's register is larger than ours: `consented` needs a distance well inside the
# same-person range and a clear margin to the next pupil.
FACE_MATCH_CONFIDENT = 0.90
FACE_MATCH_POSSIBLE = 1.20
FACE_MATCH_MARGIN = 0.15
FACE_MIN_IDENTIFY_PX = 40

CONSENTED, UNCERTAIN, NO_CONSENT, UNKNOWN = "consented", "uncertain", "no-consent", "unknown"
STATUSES = (CONSENTED, UNCERTAIN, NO_CONSENT, UNKNOWN)


def setting(name):
    return _setting(name, __name__)


_local = threading.local()


def _sface():
    recogniser = getattr(_local, "sface", None)
    if recogniser is None:
        recogniser = _local.sface = cv2.FaceRecognizerSF.create(str(weights.path(weights.SFACE)), "")
    return recogniser


@dataclass(frozen=True)
class Encoding:
    """A face's 128 numbers (length 1), and whether it was aligned on the face's landmarks: a
    face that could not be aligned is never identified without a person."""

    vector: np.ndarray
    aligned: bool


def _aligned_crop(rgb: np.ndarray, face: Found) -> np.ndarray:
    """The face aligned to SFace's 112 x 112 template, from its neighbourhood only."""
    crop, scale, x0, y0 = neighbourhood(rgb, face.box, 0.6, 160)
    marks = face.moved(-x0, -y0, scale)
    row = np.array([[marks.left, marks.top, marks.width, marks.height, *marks.landmarks, face.score]], dtype=np.float32)
    return _sface().alignCrop(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), row)


def encode_face(image: Image.Image, face, pixels: np.ndarray | None = None) -> Encoding:
    """The encoding of one face: a Found with landmarks, or a box (top, right, bottom, left),
    for which YuNet is asked for the landmarks of the face in it. pixels: the image as an RGB
    array, when the caller has it already (a 12-megapixel photo takes 30 ms to convert)."""
    if pixels is None:
        pixels = np.asarray(image if image.mode == "RGB" else _to_rgb(image))
    found = face if isinstance(face, Found) else None
    if found is None or found.landmarks is None:
        box = found.box if found is not None else tuple(int(v) for v in face)
        found = landmarks_near(pixels, box)
        if found is None:
            # No landmarks to align on: the box as it is, squared. Never `consented` (see classify).
            crop, _, _, _ = neighbourhood(pixels, box, 0.0, 112)
            vector = _sface().feature(cv2.cvtColor(cv2.resize(crop, (112, 112)), cv2.COLOR_RGB2BGR))
            return Encoding(_unit(vector), aligned=False)
    vector = _sface().feature(_aligned_crop(pixels, found))
    return Encoding(_unit(vector), aligned=True)


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def encode(image: Image.Image, face) -> np.ndarray:
    """The 128 numbers of one face (see encode_face)."""
    return encode_face(image, face).vector


_pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="encodings")


def encode_all(image: Image.Image, faces) -> list[Encoding]:
    """Every face's encoding, side by side on the machine's cores (OpenCV releases Python's lock)."""
    pixels = np.asarray(image if image.mode == "RGB" else _to_rgb(image))
    faces = list(faces)
    if len(faces) < 2:
        return [encode_face(image, face, pixels) for face in faces]
    return list(_pool.map(lambda face: encode_face(image, face, pixels), faces))


class Gallery:
    """Enrolled encodings, grouped by person: whom each belongs to and whether that person has
    consent for the channel being checked. people is whatever the caller identifies them by."""

    def __init__(self, people, consented, encodings, owners):
        self.people = list(people)
        self.consented = np.asarray(consented, dtype=bool)
        self.encodings = np.asarray(encodings, dtype=np.float64).reshape(-1, ENCODING_LENGTH)
        self.owners = np.asarray(owners, dtype=np.int64)
        # Encodings are grouped by person: where each person's run starts.
        self.starts = np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]]) if len(self.owners) else self.owners

    def __len__(self):
        return len(self.people)

    def nearest(self, encoding) -> tuple[int | None, float | None, float | None]:
        """(index of the nearest person, its distance, the second-nearest person's distance)."""
        if not len(self.owners):
            return None, None, None
        distances = np.linalg.norm(self.encodings - np.asarray(encoding, dtype=np.float64), axis=1)
        per_person = np.minimum.reduceat(distances, self.starts)
        if len(per_person) == 1:
            return int(self.owners[self.starts[0]]), float(per_person[0]), None
        two = np.argpartition(per_person, 1)[:2]
        first, second = sorted(two, key=lambda i: per_person[i])
        return int(self.owners[self.starts[first]]), float(per_person[first]), float(per_person[second])


@dataclass(frozen=True)
class Match:
    status: str
    pupil: object  # whatever the gallery's people are (a consent.models.Pupil), or None
    distance: float | None
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def upn(self) -> str | None:
        return getattr(self.pupil, "upn", None) if self.pupil is not None else None


def classify(distance, second, face_width, consented: bool, aligned: bool = True) -> str:
    """The status of one face from its nearest and second-nearest people's distances."""
    if distance is None or distance > setting("FACE_MATCH_POSSIBLE"):
        return UNKNOWN
    confident = (
        aligned
        and distance <= setting("FACE_MATCH_CONFIDENT")
        and (second is None or second - distance >= setting("FACE_MATCH_MARGIN"))
        and face_width >= setting("FACE_MIN_IDENTIFY_PX")
    )
    if not confident:
        return UNCERTAIN
    return CONSENTED if consented else NO_CONSENT


def match_encodings(encodings, widths, gallery: Gallery, boxes=None) -> list[Match]:
    """encodings: Encoding or plain vectors (taken as aligned); widths: each face's width in px."""
    out = []
    for i, (encoding, width) in enumerate(zip(encodings, widths)):
        vector, aligned = (encoding.vector, encoding.aligned) if isinstance(encoding, Encoding) else (encoding, True)
        index, distance, second = gallery.nearest(vector)
        person = gallery.people[index] if index is not None else None
        status = classify(distance, second, width, bool(index is not None and gallery.consented[index]), aligned)
        box = tuple(int(v) for v in boxes[i]) if boxes is not None else (0, 0, 0, 0)
        out.append(Match(status, person if status != UNKNOWN else None, distance, box))
    return out


def match(image: Image.Image, faces, gallery: Gallery) -> list[Match]:
    """Who each face is (a Found, or a box top, right, bottom, left) against the gallery."""
    faces = list(faces)
    if not faces:
        return []
    boxes = [f.box if isinstance(f, Found) else tuple(int(v) for v in f) for f in faces]
    return match_encodings(encode_all(image, faces), [b[1] - b[3] for b in boxes], gallery, boxes)
