"""The consent register's side of the face engine: enrolled faces loaded for matching, and
checking files against the register (`check_media`).

The pixel work (reading photos, detection, encodings, tracking, published copies) is in the
`pixels` package; this module brings it the register, decrypted, and the pupils' consent.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from config.school import crypto
from consent.models import BiometricConsent, FaceEncoding, PhotoConsent, Pupil
from pixels import detection, imaging, photos, recognition, second_opinion, video, video_copy
from pixels.recognition import CONSENTED, NO_CONSENT, STATUSES, UNCERTAIN, UNKNOWN, Match, setting  # noqa: F401

# Photos checked side by side by check_media.
FACE_WORKERS = 2


class Register(recognition.Gallery):
    """The enrolled faces of pupils who may be recognised, and who has consent for one channel.

    Only pupils on roll whose biometric consent stands are here: an encoding that should have
    been erased is never used, whether or not it has been erased yet. Only encodings made by
    the engine's own model (recognition.MODEL_ID) are loaded: a pupil enrolled with an older
    model is not recognised until enrolled again, and is identified by hand meanwhile.
    """

    @property
    def pupils(self):
        return self.people

    @classmethod
    def load(cls, channel_kind: str, on=None):
        """The pupils who may be recognised now, with their consent for this kind of channel."""
        pupils = [
            p for p in Pupil.objects.filter(on_roll=True, face_encodings__model=recognition.MODEL_ID).distinct()
            .select_related("biometric_consent").order_by("pk")
            if may_be_recognised(p)
        ]
        consents = {
            c.pupil_id: c
            for c in PhotoConsent.objects.filter(pupil__in=pupils, channel_kind=channel_kind).select_related("pupil")
        }
        return cls._with_encodings(pupils, [bool(consents.get(p.pk) and consents[p.pk].is_current(on)) for p in pupils])

    @classmethod
    def load_all(cls, exclude=None):
        """Every enrolled pupil, whatever their consent (to check a new enrolment against)."""
        pupils = Pupil.objects.filter(face_encodings__model=recognition.MODEL_ID).distinct().order_by("pk")
        if exclude is not None:
            pupils = pupils.exclude(pk=exclude.pk)
        pupils = list(pupils)
        return cls._with_encodings(pupils, [False] * len(pupils))

    @classmethod
    def _with_encodings(cls, pupils, consented):
        if not pupils:
            return cls([], [], np.zeros((0, recognition.ENCODING_LENGTH)), [])
        index = {p.pk: i for i, p in enumerate(pupils)}
        box = crypto.fernet()
        rows = (FaceEncoding.objects.filter(pupil_id__in=index, model=recognition.MODEL_ID)
                .order_by("pupil_id", "pk").values_list("pupil_id", "encrypted"))
        owners, encodings = [], []
        for pupil_id, token in rows.iterator(chunk_size=2000):
            owners.append(index[pupil_id])
            encodings.append(crypto.decrypt_encoding(token, box))
        return cls(pupils, consented, np.array(encodings).reshape(-1, recognition.ENCODING_LENGTH), owners)


def may_be_recognised(pupil) -> bool:
    try:
        consent = pupil.biometric_consent
    except BiometricConsent.DoesNotExist:
        return False
    return pupil.on_roll and consent.refusal() == ""



def match(image: Image.Image, faces, channel_kind: str, register: Register | None = None) -> list[Match]:
    """Who each face (a detection.Found, or a box top, right, bottom, left) is, against the register as it is now."""
    faces = list(faces)
    if not faces:
        return []
    register = register if register is not None else Register.load(channel_kind)
    return recognition.match(image, faces, register)


# --- Checking files (check_media) -----------------------------------------------------------

FAILING = {NO_CONSENT, UNKNOWN}


def _not_checked(display, error) -> str:
    return f"'{display}' could not be checked ({type(error).__name__}: {error})."


def check_file(path, channel_kind: str, register: Register, display=None, copy_to: Path | None = None,
               copy_stem: str | None = None) -> dict:
    """One file's faces, each matched, and its metadata. With copy_to, the published copy that
    would go out if nobody identified anyone by hand is written there, named copy_stem (the
    input's own name by default) with the published format's extension: every face that is not
    `consented` pixelated, no metadata."""
    display = display if display is not None else str(path)
    copy_stem = copy_stem or Path(display).stem
    try:
        image = photos.load_image(path, name=display)
        metadata = photos.metadata_names(path)
    except photos.ImageRejected as error:
        if error.not_an_image:  # perhaps a video
            return _check_video(path, channel_kind, register, display, str(error), copy_to, copy_stem)
        return {"file": display, "error": str(error), "faces": [], "metadata": []}
    try:
        found = detection.detect_faces(image)
        found += second_opinion.extra_faces(image, found)  # faces only the second detector sees
        matches = match(image, found, channel_kind, register)
        if copy_to is not None:
            blurred = [m.box for m in matches if m.status != CONSENTED]
            destination = _copy_path(path, copy_to, copy_stem, ".jpg")
            _written(destination, lambda temporary: imaging.write_published_copy(image, blurred, temporary))
    except Exception as error:  # never a crash, never a pass: the file is reported as not checked
        return {"file": display, "error": _not_checked(display, error), "faces": [], "metadata": metadata}
    faces = [
        {"box": list(m.box), "status": m.status, "upn": m.upn,
         "distance": None if m.distance is None else round(m.distance, 4)}
        for m in matches
    ]
    return {"file": display, "error": None, "faces": faces, "metadata": metadata}


def _check_video(path, channel_kind: str, register: Register, display: str, not_a_photo: str, copy_to=None,
                 copy_stem=None) -> dict:
    if not video.looks_like_video(path):
        return {"file": display, "error": not_a_photo, "faces": [], "metadata": []}
    try:
        report = video.analyse(path, register, name=display)
        metadata = video.metadata_names(path)
        if copy_to is not None:
            tracks = [[[v.time, *v.face.box] for v in t.views] for t in report.tracks if t.match.status != CONSENTED]
            destination = _copy_path(path, copy_to, copy_stem, ".mp4")
            if tracks:
                _written(destination, lambda temporary: video_copy.blurred(Path(path), tracks, temporary))
            else:
                _written(destination, lambda temporary: video_copy.remux(Path(path), temporary))
    except video.VideoRejected as error:
        return {"file": display, "error": str(error), "faces": [], "metadata": []}
    except Exception as error:  # never a crash, never a pass
        return {"file": display, "error": _not_checked(display, error), "faces": [], "metadata": []}
    return {"file": display, "error": None, "faces": video.report_faces(report), "metadata": metadata}


class CopyRefused(ValueError):
    pass


def _copy_path(source, folder, stem: str, extension: str) -> Path:
    destination = Path(folder) / f"{stem}{extension}"
    if destination.exists() and destination.samefile(source):
        raise CopyRefused(f"its published copy would replace the file itself ({destination}): choose another folder")
    return destination


def _written(destination: Path, write) -> None:
    """Write through a temporary file in the same folder, so a copy is either whole or absent."""
    temporary = destination.with_name(f".{destination.stem}.partial{destination.suffix}")
    try:
        write(temporary)
        temporary.replace(destination)
    finally:
        temporary.unlink(missing_ok=True)


def copy_stems(paths) -> list[str]:
    """Each input's name for its published copy: its own, with -2, -3 ... when two share one."""
    stems, seen = [], {}
    for path in paths:
        stem = Path(path).stem
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems


def verdict(files: list[dict]) -> str:
    statuses = {face["status"] for f in files for face in f["faces"]}
    if any(f["error"] for f in files) or statuses & FAILING:
        return "fail"
    if UNCERTAIN in statuses:
        return "review"
    return "pass"


def check_files(paths, channel_kind: str, *, workers: int | None = None, register: Register | None = None,
                copy_to: Path | None = None) -> dict:
    """Detection, matching and metadata for each file: {"verdict": ..., "files": [...]}."""
    register = register if register is not None else Register.load(channel_kind)
    paths = list(paths)
    workers = max(1, min(len(paths), workers or FACE_WORKERS))
    stems = copy_stems(paths)
    jobs = list(zip(paths, stems))
    if copy_to is not None:
        Path(copy_to).mkdir(parents=True, exist_ok=True)

    def one(job):
        return check_file(job[0], channel_kind, register, copy_to=copy_to, copy_stem=job[1])

    if workers == 1:
        files = [one(job) for job in jobs]
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            files = list(pool.map(one, jobs))
    return {"verdict": verdict(files), "files": files}
