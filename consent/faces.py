"""The face engine: safe image loading, face detection, encoding, and matching against the register.

Everything that looks at a photo's faces goes through here: enrolment, `check_media`, the
`image-consent` gate and the published copy. The settings below were chosen by measuring on
the labelled photos in shared/testdata (`python manage.py bench` measures them again).
"""

import math
import multiprocessing
import os
import threading
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pillow_heif
from django.conf import settings
from PIL import Image, ImageFile, ImageOps, IptcImagePlugin, UnidentifiedImageError

pillow_heif.register_heif_opener()

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # face_recognition_models still imports pkg_resources
    import dlib
    import face_recognition_models

# Pillow warns (and at twice its own limit, refuses) on huge images; our own limit,
# settings.MEDIA_MAX_PIXELS, is lower and refuses them with a message instead.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


# --- Settings ------------------------------------------------------------------------------
# Each can be overridden in Django settings under the same name.

# Detection. dlib's HOG detector (what face_recognition uses by default) finds faces of about
# 80 px and more, so the photo is cut into tiles of FACE_DETECT_TILE px overlapping by
# FACE_DETECT_OVERLAP, each enlarged FACE_DETECT_SCALE times: faces down to about 80 / 3 = 27 px
# reach the detector at full size, and a 25-px face still scores. One more pass over the whole
# photo, reduced, finds faces too large to lie within one tile. Tiles run on a thread pool:
# dlib releases the GIL while it scans (measured: two threads, 1.9 times one).
# HOG candidates down to FACE_DETECT_THRESHOLD are kept. Those scoring under FACE_DETECT_ACCEPT
# (dlib's own threshold, 0) count only when dlib's CNN face detector also finds a face there, on
# the candidate's neighbourhood (FACE_VERIFY_MARGIN of the box on each side) scaled so the box
# is FACE_VERIFY_PX across.
# Measured on this 2-core machine (`manage.py bench` measures recall and time again):
#   - 12-megapixel class photos with 35 faces 25 px across, built from the labelled faces:
#     face_recognition at its defaults (upsample 1) finds 5 of 35; upsampled twice, 32 of 35
#     in 27-29 s on one core. Tiles enlarged 2, 2.5, 3 times find 6, 28, 32 at HOG's own
#     threshold. Over 10 such photos (350 faces) the lowest true-face HOG scores at x3 were
#     -0.71, -0.59, -0.48: a threshold of -0.8 keeps all 350 (-0.6 kept 349). In the video,
#     three turned faces of the audience scored -0.66 to -0.74.
#   - lowering HOG's threshold alone floods ordinary photos with false faces (10 in the 10
#     single-person enrolment photos at -0.6; about 48 candidates a class photo at -0.8). The
#     CNN confirmed every true face among them, the turned faces of the video too, and none of
#     the false ones (at 100 px; at 80 px it lost one whose HOG box was too large). It costs
#     about 0.3 s a candidate and holds the GIL, so it runs beside the scans of other tiles;
#     on whole photos it would take minutes (43 s for the 8 small labelled posts at 1x).
#     (Scanning each candidate again with HOG before the CNN would have spared 90% of the CNN
#     checks on the class photos, but dropped those three real turned faces: not done.)
#   - labelled posts at these settings: 25 of 25 faces, none false; enrolment photos: exactly
#     one face each; class photos: every face, none false.
# A false face costs a person a look; a missed face can publish a child without consent.
# Colour, not grey: grey scans 25% faster, but it was not measured across skin tones and
# backgrounds, and colour edges are what the library uses.
FACE_DETECT_SCALE = 3.0
FACE_DETECT_TILE = 1536
FACE_DETECT_OVERLAP = 128
FACE_DETECT_THRESHOLD = -0.8
FACE_DETECT_ACCEPT = 0.0
FACE_VERIFY_PX = 100
FACE_VERIFY_MARGIN = 0.5
FACE_DETECT_GRAY = False
# Threads for detection: all the machine's cores. The CNN checks and the encodings hold the GIL,
# so they run in FACE_PROCESSES worker processes (0: in the calling thread).
FACE_WORKERS = os.cpu_count() or 2
FACE_PROCESSES = os.cpu_count() or 2

# Matching: the Euclidean distance between 128-number encodings (dlib's ResNet model; the
# library's suggested cut-off is 0.6). Measured on the labelled data, each person of
# faces/enrol enrolled, every face of faces/posts and of the video matched
# (`manage.py bench` prints these again):
#   - same person, different photo: 0.34-0.41 (stills), 0.31-0.55 (video frames, 86-103 px);
#     the same faces downscaled to 25 px: 0.32-0.49, to 40 px 0.19-0.42;
#   - different people (190 pairs, 120 of them with the 20 strangers of the group photos):
#     lowest 0.649, 5th percentile 0.709; the closest were all small faces (35-41 px); at
#     25 px, lowest 0.65.
#   - at these settings: no false accept; 6 of the 14 known faces `consented`, the rest
#     `uncertain` for a person to confirm.
# `consented` needs a distance at or below FACE_MATCH_CONFIDENT (0.25 under the closest
# stranger seen; children are known to look more alike to such models than adults, and with
# 2,000 pupils the nearest stranger is nearer than with 6), *and* the second-nearest pupil at
# least FACE_MATCH_MARGIN further. Up to FACE_MATCH_POSSIBLE the face is `uncertain`: a person
# confirms it. Beyond it, `unknown`. A face narrower than FACE_MIN_IDENTIFY_PX is at best
# `uncertain`: at 25 px the same person's distance nearly doubles (median 0.40 against 0.24 at
# 40 px), too close to the strangers to be sure with a child's face.
FACE_MATCH_CONFIDENT = 0.40
FACE_MATCH_POSSIBLE = 0.60
FACE_MATCH_MARGIN = 0.10
FACE_MIN_IDENTIFY_PX = 40

CONSENTED, UNCERTAIN, NO_CONSENT, UNKNOWN = "consented", "uncertain", "no-consent", "unknown"
STATUSES = (CONSENTED, UNCERTAIN, NO_CONSENT, UNKNOWN)


def setting(name):
    return getattr(settings, name, globals()[name])


# --- Loading a photo safely ----------------------------------------------------------------

ACCEPTED = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WebP", "HEIF": "HEIC"}
EXTENSIONS = {
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "PNG": {".png"},
    "WEBP": {".webp"},
    "HEIF": {".heic", ".heif", ".hif"},
}
ACCEPTED_IN_WORDS = "JPEG, PNG, WebP or HEIC"


class ImageRejected(ValueError):
    """The file cannot be checked. The message names the file and says what is wrong.

    not_an_image: Pillow did not recognise the content as a picture at all (it may be a video)."""

    def __init__(self, message, *, not_an_image=False):
        super().__init__(message)
        self.not_an_image = not_an_image


def _name(path, name=None) -> str:
    return f"'{name or Path(path).name}'"


def _open_checked(path, name=None) -> Image.Image:
    """Open (not decode) an image after checking it is a file of an accepted kind and size."""
    path = Path(path)
    who = _name(path, name)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageRejected(f"{who} does not exist.") from None
    except OSError as error:
        raise ImageRejected(f"{who} cannot be read ({error.strerror or error}).") from None
    if path.is_dir():
        raise ImageRejected(f"{who} is a folder, not a photo.")
    if size == 0:
        raise ImageRejected(f"{who} is empty (0 bytes): it is not a photo.")
    if size > settings.MEDIA_MAX_BYTES:
        raise ImageRejected(f"{who} is {size:,} bytes, more than the {settings.MEDIA_MAX_BYTES:,} allowed.")
    limit = settings.MEDIA_MAX_PIXELS
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as error:
        raise ImageRejected(
            f"{who} declares far more pixels than the {limit / 1e6:g} megapixels allowed ({error.args[0].split(',')[0]}); "
            "a file that small with that many pixels is a decompression bomb. It was not opened."
        ) from None
    except UnidentifiedImageError:
        raise ImageRejected(
            f"{who} is not a photo that can be read: its content is not a {ACCEPTED_IN_WORDS} image "
            "(it may be damaged, or another kind of file with a photo's name).",
            not_an_image=True,
        ) from None
    except (OSError, SyntaxError, ValueError) as error:
        raise ImageRejected(f"{who} is damaged and cannot be read ({error}).") from None
    try:
        fmt = image.format
        width, height = image.size
        if width * height > limit:
            raise ImageRejected(
                f"{who} is {width}×{height} pixels ({width * height / 1e6:.0f} megapixels), more than the "
                f"{limit / 1e6:g} megapixels allowed (it may be a decompression bomb). It was not opened."
            )
        if fmt != "HEIF" and (getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1):
            # (A HEIC photo's other images, such as a burst, are never published: only its primary one.)
            kind = f"an animated {ACCEPTED.get(fmt, fmt)}"
            raise ImageRejected(
                f"{who} is {kind} ({getattr(image, 'n_frames', '?')} frames): only still photos can be checked. "
                "Use a still photo, or upload it as a video."
            )
        if fmt not in ACCEPTED:
            raise ImageRejected(f"{who} is a {fmt} image: only {ACCEPTED_IN_WORDS} photos are accepted.")
        suffix = path.suffix.lower() if name is None else Path(name).suffix.lower()
        if suffix and suffix not in EXTENSIONS[fmt]:
            raise ImageRejected(
                f"{who} is named as a {suffix[1:].upper()} file but its content is a {ACCEPTED[fmt]} image. "
                "Give it the right extension, or check where it came from."
            )
    except BaseException:
        image.close()
        raise
    return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB, as the published copy will show it: transparency flattened onto white."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        scaled = np.asarray(image, dtype=np.uint32)
        image = Image.fromarray((scaled >> 8 if scaled.max() > 255 else scaled).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


def load_image(path, name=None) -> Image.Image:
    """The photo as people will see it: checked by content, fully decoded, EXIF orientation
    applied, transparency flattened onto white, in RGB. ImageRejected says what is wrong."""
    return read_photo(path, name)[1]


def read_photo(path, name=None) -> tuple[str, Image.Image]:
    """(Pillow's format name, the photo as load_image gives it). name is the file's name as
    its owner knows it, when the file on disk is stored under another."""
    who = _name(path, name)
    image = _open_checked(path, name)
    fmt = image.format
    # face_recognition sets this to True when it is imported, which would let a truncated or
    # damaged photo through with grey where the picture is missing: refuse such photos.
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with image:
            image.load()
            oriented = ImageOps.exif_transpose(image)
            return fmt, _to_rgb(oriented)
    except ImageRejected:
        raise
    except Image.DecompressionBombError:
        raise ImageRejected(f"{who} is too large to be opened safely.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        detail = str(error) or type(error).__name__
        if "truncated" in detail:
            raise ImageRejected(f"{who} is truncated: the file ends before the picture does ({detail}).") from None
        raise ImageRejected(f"{who} is damaged and cannot be decoded ({detail}).") from None
    except MemoryError:
        raise ImageRejected(f"{who} is too large to be opened.") from None


# --- Metadata ------------------------------------------------------------------------------

# EXIF tags that identify the camera or phone: make, model, serial numbers, owner, maker note.
DEVICE_TAGS = {0x010F, 0x0110}  # IFD0: Make, Model
DEVICE_EXIF_TAGS = {0x927C, 0xA430, 0xA431, 0xA433, 0xA434, 0xA435}  # MakerNote, owner, body/lens make, model, serials
GPS_IFD, EXIF_IFD = 0x8825, 0x8769


def metadata_names(path) -> list[str]:
    """What metadata the file carries, by name: "EXIF", "GPS", "XMP", "IPTC", "device"."""
    found = []
    image = _open_checked(path)
    with image:
        exif = None
        try:
            exif = image.getexif()
        except Exception:  # a damaged EXIF block is still an EXIF block
            found.append("EXIF")
        has_exif_bytes = bool(image.info.get("exif"))
        if exif is not None and (len(exif) or has_exif_bytes):
            found.append("EXIF")
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
        if isinstance(xmp, str):
            xmp = xmp.encode("utf-8", "replace")
        gps = False
        device = False
        if exif is not None:
            try:
                # GPSVersionID (tag 0) on its own says nothing about where the photo was taken.
                gps = any(tag != 0 for tag in exif.get_ifd(GPS_IFD))
            except Exception:
                gps = GPS_IFD in exif
            try:
                exif_ifd = exif.get_ifd(EXIF_IFD)
            except Exception:
                exif_ifd = {}
            device = any(exif.get(tag) for tag in DEVICE_TAGS) or any(exif_ifd.get(tag) for tag in DEVICE_EXIF_TAGS)
        if b"GPSLatitude" in xmp or b"GPSLongitude" in xmp:
            gps = True
        if any(marker in xmp for marker in (b"tiff:Make", b"tiff:Model", b"SerialNumber", b"exif:Make")):
            device = True
        if gps:
            found.append("GPS")
        if xmp:
            found.append("XMP")
        try:
            iptc = IptcImagePlugin.getiptcinfo(image)
        except Exception:
            iptc = None
        if iptc:
            found.append("IPTC")
        if device:
            found.append("device")
    return found


# --- Detection -----------------------------------------------------------------------------

_local = threading.local()
_models_lock = threading.Lock()
_encode_lock = threading.Lock()
_cnn_lock = threading.Lock()
_models = {}
_pool = None
_pool_lock = threading.Lock()


def _detector():
    # One detector per thread: dlib releases the GIL while scanning, so threads run at once.
    detector = getattr(_local, "detector", None)
    if detector is None:
        detector = _local.detector = dlib.get_frontal_face_detector()
    return detector


def _model(name):
    with _models_lock:
        if name not in _models:
            if name == "landmarks":
                _models[name] = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
            elif name == "cnn":
                _models[name] = dlib.cnn_face_detection_model_v1(face_recognition_models.cnn_face_detector_model_location())
            else:
                _models[name] = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())
        return _models[name]


def detection_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, int(setting("FACE_WORKERS"))), thread_name_prefix="faces")
        return _pool


_processes = None


def process_pool() -> ProcessPoolExecutor | None:
    """Worker processes for the work that holds the GIL, or None to do it in the calling thread.

    They are forked from a fresh forkserver (never from this process, whose threads may hold
    locks), which has imported this module and dlib already.
    """
    global _processes
    count = int(setting("FACE_PROCESSES"))
    if count < 1:
        return None
    with _pool_lock:
        if _processes is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            _processes = ProcessPoolExecutor(
                max_workers=count, mp_context=context, initializer=_watch_parent, initargs=(os.getpid(),)
            )
        return _processes


def _watch_parent(parent: int) -> None:
    """In a worker: stop when the process that started it has gone (killed, or restarted), rather
    than go on working through what it was sent."""

    def watch():
        while True:
            time.sleep(1)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # the pid now belongs to another user's process
                os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _in_worker(function, *args):
    """Run function(*args) in a worker process; in this thread when there are none or they broke."""
    global _processes
    pool = process_pool()
    if pool is not None:
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool:
            with _pool_lock:
                _processes = None
    return function(*args)


def _cnn_sees_face(pixels: np.ndarray, verify_px: int) -> bool:
    """In a worker: does the CNN find a face near the middle of these pixels?"""
    centre = pixels.shape[0] / 2
    with _cnn_lock:
        found = _model("cnn")(pixels, 0)
    return any(
        abs((d.rect.left() + d.rect.right()) / 2 - centre) < verify_px / 2
        and abs((d.rect.top() + d.rect.bottom()) / 2 - centre) < verify_px / 2
        for d in found
    )


def _encode_pixels(pixels: np.ndarray, rect: tuple[int, int, int, int]) -> np.ndarray:
    """In a worker: the encoding of the face in rect (left, top, right, bottom) of these pixels."""
    with _encode_lock:
        shape = _model("landmarks")(pixels, dlib.rectangle(*rect))
        return np.array(_model("encoder").compute_face_descriptor(pixels, shape, 1), dtype=np.float64)


@dataclass(frozen=True)
class Found:
    top: int
    right: int
    bottom: int
    left: int
    score: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)

    @property
    def width(self) -> int:
        return self.right - self.left


@dataclass(frozen=True)
class DetectionSettings:
    scale: float
    tile: int
    overlap: int
    threshold: float
    accept: float
    verify_px: int
    gray: bool = False

    @classmethod
    def current(cls):
        return cls(
            scale=float(setting("FACE_DETECT_SCALE")), tile=int(setting("FACE_DETECT_TILE")),
            overlap=int(setting("FACE_DETECT_OVERLAP")), threshold=float(setting("FACE_DETECT_THRESHOLD")),
            accept=float(setting("FACE_DETECT_ACCEPT")), verify_px=int(setting("FACE_VERIFY_PX")),
            gray=bool(setting("FACE_DETECT_GRAY")),
        )

    def describe(self) -> str:
        return (
            f"HOG (dlib frontal face detector) on {'grey' if self.gray else 'colour'} tiles of {self.tile} px overlapping by "
            f"{self.overlap} px, each enlarged x{self.scale:g} (smallest face about {80 / self.scale:.0f} px), plus one pass over "
            f"the whole photo for faces over {self.overlap} px; candidates down to a HOG score of {self.threshold:+g}; "
            f"those under {self.accept:+g} kept only when dlib's CNN face detector confirms them "
            f"(on the candidate's neighbourhood scaled so the face is {self.verify_px} px)"
        )


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    if length <= tile:
        return [(0, length)]
    count = math.ceil((length - overlap) / (tile - overlap))
    size = math.ceil((length + (count - 1) * overlap) / count)
    step = (length - size) / (count - 1)
    return [(int(i * step), int(i * step) + size) for i in range(count)]


def plan(width: int, height: int, params: DetectionSettings) -> list[tuple[tuple[int, int, int, int], float]]:
    """The regions to scan, (left, top, right, bottom) each with the scale to scan it at."""
    tiles = [
        ((x0, y0, x1, y1), params.scale)
        for y0, y1 in _spans(height, params.tile, params.overlap)
        for x0, x1 in _spans(width, params.tile, params.overlap)
    ]
    if len(tiles) > 1:
        # A face wider than the overlap may not lie within any one tile: this pass finds it.
        # It is scanned small enough that such a face is still over 100 px to the detector.
        tiles.insert(0, ((0, 0, width, height), min(1.0, 100 / params.overlap)))
    return tiles


def _scan(image: Image.Image, region, scale: float, params: DetectionSettings) -> list[Found]:
    left, top, right, bottom = region
    out_w, out_h = max(1, round((right - left) * scale)), max(1, round((bottom - top) * scale))
    if (out_w, out_h) == (right - left, bottom - top):
        scaled = image.crop(region) if region != (0, 0, *image.size) else image
    else:
        scaled = image.resize((out_w, out_h), Image.Resampling.BILINEAR, box=region)
    if params.gray:
        scaled = scaled.convert("L")
    sx, sy = out_w / (right - left), out_h / (bottom - top)
    rects, scores, _ = _detector().run(np.asarray(scaled), 0, params.threshold)
    return [
        Found(round(top + r.top() / sy), round(left + r.right() / sx), round(top + r.bottom() / sy),
              round(left + r.left() / sx), float(score))
        for r, score in zip(rects, scores)
    ]


def _confirmed(image: Image.Image, face: Found, params: DetectionSettings) -> bool:
    """Whether dlib's CNN face detector also sees a face here (for doubtful HOG candidates)."""
    size = max(face.right - face.left, face.bottom - face.top, 1)
    margin = size * float(setting("FACE_VERIFY_MARGIN"))
    box = (round(face.left - margin), round(face.top - margin), round(face.right + margin), round(face.bottom + margin))
    side = round(params.verify_px * (1 + 2 * float(setting("FACE_VERIFY_MARGIN"))))
    # crop() pads with black beyond the edges, so a face at the border stays centred.
    pixels = np.asarray(image.crop(box).resize((side, side), Image.Resampling.BICUBIC))
    return _in_worker(_cnn_sees_face, pixels, params.verify_px)


def _kept(image: Image.Image, face: Found, params: DetectionSettings) -> bool:
    if face.score >= params.accept:
        return True
    return _confirmed(image, face, params)


def _same_face(a: Found, b: Found) -> bool:
    width = min(a.right, b.right) - max(a.left, b.left)
    height = min(a.bottom, b.bottom) - max(a.top, b.top)
    if width <= 0 or height <= 0:
        return False
    inter = width * height
    area_a = (a.right - a.left) * (a.bottom - a.top)
    area_b = (b.right - b.left) * (b.bottom - b.top)
    return inter / (area_a + area_b - inter) > 0.3 or inter / min(area_a, area_b) > 0.6


def _merge(found: list[Found], width: int, height: int) -> list[Found]:
    kept: list[Found] = []
    for face in sorted(found, key=lambda f: -f.score):
        if not any(_same_face(face, other) for other in kept):
            kept.append(face)
    clipped = [
        Found(max(0, f.top), min(width, f.right), min(height, f.bottom), max(0, f.left), f.score) for f in kept
    ]
    return [f for f in clipped if f.right > f.left and f.bottom > f.top]


def _scan_and_confirm(image: Image.Image, region, scale: float, params: DetectionSettings) -> list[Found]:
    # Doubtful candidates are confirmed here, in the same task as their scan: the CNN holds
    # the GIL while HOG scans of other tiles, which release it, keep the other cores busy.
    return [f for f in _scan(image, region, scale, params) if _kept(image, f, params)]


def _run_regions(image: Image.Image, params: DetectionSettings, task, pool=None) -> list[Found]:
    regions = plan(*image.size, params)
    if pool is None and len(regions) > 1:
        pool = detection_pool()
    if pool is None:
        results = [task(image, region, scale, params) for region, scale in regions]
    else:
        # Largest first, so the cores finish together.
        ordered = sorted(regions, key=lambda r: -(r[0][2] - r[0][0]) * (r[0][3] - r[0][1]) * r[1] ** 2)
        results = list(pool.map(lambda r: task(image, r[0], r[1], params), ordered))
    return _merge([f for part in results for f in part], *image.size)


def detect_candidates(image: Image.Image, params: DetectionSettings, pool=None) -> list[Found]:
    """Every HOG detection down to params.threshold, unconfirmed, duplicates across tiles merged."""
    return _run_regions(image, params, _scan, pool)


def detect_faces(image: Image.Image, params: DetectionSettings | None = None, pool=None) -> list[Found]:
    """Every face found in an image (as load_image returns it), each with its HOG score."""
    params = params or DetectionSettings.current()
    if image.mode != "RGB":
        image = _to_rgb(image)
    return sorted(_run_regions(image, params, _scan_and_confirm, pool), key=lambda f: (f.top, f.left))


def detect(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """The boxes (top, right, bottom, left) of every face in the image."""
    return [f.box for f in detect_faces(image)]


# --- Encoding ------------------------------------------------------------------------------


def _neighbourhood(image: Image.Image, box) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    # Only the neighbourhood of the face is handed to dlib: it converts the whole array it gets.
    top, right, bottom, left = (int(v) for v in box)
    margin = max(right - left, bottom - top, 1)
    width, height = image.size
    crop_box = (max(0, left - margin), max(0, top - margin), min(width, right + margin), min(height, bottom + margin))
    pixels = np.asarray((image if image.mode == "RGB" else _to_rgb(image)).crop(crop_box))
    return pixels, (left - crop_box[0], top - crop_box[1], right - crop_box[0], bottom - crop_box[1])


def encode(image: Image.Image, box) -> np.ndarray:
    """The 128-number encoding of the face in box (top, right, bottom, left)."""
    return _in_worker(_encode_pixels, *_neighbourhood(image, box))


def encode_all(image: Image.Image, boxes) -> np.ndarray:
    rgb = image if image.mode == "RGB" else _to_rgb(image)
    parts = [_neighbourhood(rgb, box) for box in boxes]
    pool = process_pool()
    if pool is not None and len(parts) > 1:
        try:
            vectors = list(pool.map(_encode_pixels, *zip(*parts)))
        except BrokenProcessPool:
            vectors = [_encode_pixels(*part) for part in parts]
    else:
        vectors = [_in_worker(_encode_pixels, *part) for part in parts]
    return np.array(vectors, dtype=np.float64).reshape(-1, 128)


# --- The register and matching -------------------------------------------------------------


class Register:
    """The enrolled faces of pupils who may be recognised, and who has consent for one channel.

    Only pupils on roll whose biometric consent stands are here: an encoding that should have
    been erased is never used, whether or not it has been erased yet.
    """

    def __init__(self, pupils, consented, encodings, owners):
        self.pupils = list(pupils)
        self.consented = np.asarray(consented, dtype=bool)
        self.encodings = np.asarray(encodings, dtype=np.float64).reshape(-1, 128)
        self.owners = np.asarray(owners, dtype=np.int64)
        # Encodings are grouped by pupil: where each pupil's run starts.
        self.starts = np.flatnonzero(np.r_[True, self.owners[1:] != self.owners[:-1]]) if len(self.owners) else self.owners

    def __len__(self):
        return len(self.pupils)

    @classmethod
    def load(cls, channel_kind: str, on=None):
        """The pupils who may be recognised now, with their consent for this kind of channel."""
        from consent.models import PhotoConsent, Pupil

        pupils = [
            p for p in Pupil.objects.filter(on_roll=True, face_encodings__isnull=False).distinct()
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
        from consent.models import Pupil

        pupils = Pupil.objects.filter(face_encodings__isnull=False).distinct().order_by("pk")
        if exclude is not None:
            pupils = pupils.exclude(pk=exclude.pk)
        pupils = list(pupils)
        return cls._with_encodings(pupils, [False] * len(pupils))

    @classmethod
    def _with_encodings(cls, pupils, consented):
        from consent import crypto
        from consent.models import FaceEncoding

        if not pupils:
            return cls([], [], np.zeros((0, 128)), [])
        index = {p.pk: i for i, p in enumerate(pupils)}
        box = crypto.fernet()
        rows = FaceEncoding.objects.filter(pupil_id__in=index).order_by("pupil_id", "pk").values_list("pupil_id", "encrypted")
        owners, encodings = [], []
        for pupil_id, token in rows.iterator(chunk_size=2000):
            owners.append(index[pupil_id])
            encodings.append(crypto.decrypt_encoding(token, box))
        return cls(pupils, consented, np.array(encodings).reshape(-1, 128), owners)

    def nearest(self, encoding) -> tuple[int | None, float | None, float | None]:
        """(index of the nearest pupil, its distance, the second-nearest pupil's distance)."""
        if not len(self.owners):
            return None, None, None
        distances = np.linalg.norm(self.encodings - np.asarray(encoding), axis=1)
        per_pupil = np.minimum.reduceat(distances, self.starts)
        if len(per_pupil) == 1:
            return int(self.owners[self.starts[0]]), float(per_pupil[0]), None
        two = np.argpartition(per_pupil, 1)[:2]
        first, second = sorted(two, key=lambda i: per_pupil[i])
        return int(self.owners[self.starts[first]]), float(per_pupil[first]), float(per_pupil[second])


def may_be_recognised(pupil) -> bool:
    from consent.models import BiometricConsent

    try:
        consent = pupil.biometric_consent
    except BiometricConsent.DoesNotExist:
        return False
    return pupil.on_roll and consent.refusal() == ""


@dataclass(frozen=True)
class Match:
    status: str
    pupil: object  # consent.models.Pupil, or None
    distance: float | None
    box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def upn(self) -> str | None:
        return self.pupil.upn if self.pupil is not None else None


def classify(distance, second, face_width, consented: bool) -> str:
    """The status of one face from its nearest and second-nearest pupils' distances."""
    if distance is None or distance > setting("FACE_MATCH_POSSIBLE"):
        return UNKNOWN
    confident = (
        distance <= setting("FACE_MATCH_CONFIDENT")
        and (second is None or second - distance >= setting("FACE_MATCH_MARGIN"))
        and face_width >= setting("FACE_MIN_IDENTIFY_PX")
    )
    if not confident:
        return UNCERTAIN
    return CONSENTED if consented else NO_CONSENT


def match_encodings(encodings, widths, register: Register, boxes=None) -> list[Match]:
    out = []
    for i, (encoding, width) in enumerate(zip(encodings, widths)):
        index, distance, second = register.nearest(encoding)
        pupil = register.pupils[index] if index is not None else None
        status = classify(distance, second, width, bool(index is not None and register.consented[index]))
        box = tuple(int(v) for v in boxes[i]) if boxes is not None else (0, 0, 0, 0)
        out.append(Match(status, pupil if status != UNKNOWN else None, distance, box))
    return out


def match(image: Image.Image, boxes, channel_kind: str, register: Register | None = None) -> list[Match]:
    """Who each face (box: top, right, bottom, left) is, against the register as it is now."""
    boxes = [tuple(int(v) for v in b) for b in boxes]
    if not boxes:
        return []
    register = register if register is not None else Register.load(channel_kind)
    encodings = encode_all(image, boxes)
    return match_encodings(encodings, [b[1] - b[3] for b in boxes], register, boxes)


# --- Checking files (check_media) -----------------------------------------------------------

FAILING = {NO_CONSENT, UNKNOWN}


def check_file(path, channel_kind: str, register: Register, display=None, pool=None) -> dict:
    display = display if display is not None else str(path)
    try:
        image = load_image(path, name=display)
        metadata = metadata_names(path)
    except ImageRejected as error:
        if error.not_an_image:  # perhaps a video
            return _check_video(path, channel_kind, register, display, str(error))
        return {"file": display, "error": str(error), "faces": [], "metadata": []}
    try:
        found = detect_faces(image, pool=pool)
        matches = match(image, [f.box for f in found], channel_kind, register)
    except Exception as error:  # never a crash, never a pass: the file is reported as not checked
        return {"file": display, "error": f"'{display}' could not be checked ({type(error).__name__}: {error}).",
                "faces": [], "metadata": metadata}
    faces = [
        {"box": list(m.box), "status": m.status, "upn": m.upn,
         "distance": None if m.distance is None else round(m.distance, 4)}
        for m in matches
    ]
    return {"file": display, "error": None, "faces": faces, "metadata": metadata}


def _check_video(path, channel_kind: str, register: Register, display: str, not_a_photo: str) -> dict:
    from consent import video

    if not video.looks_like_video(path):
        return {"file": display, "error": not_a_photo, "faces": [], "metadata": []}
    try:
        report = video.analyse(path, channel_kind, register, name=display)
        metadata = video.metadata_names(path)
    except video.VideoRejected as error:
        return {"file": display, "error": str(error), "faces": [], "metadata": []}
    except Exception as error:  # never a crash, never a pass
        return {"file": display, "error": f"'{display}' could not be checked ({type(error).__name__}: {error}).", "faces": [], "metadata": []}
    return {"file": display, "error": None, "faces": video.report_faces(report), "metadata": metadata}


def verdict(files: list[dict]) -> str:
    statuses = {face["status"] for f in files for face in f["faces"]}
    if any(f["error"] for f in files) or statuses & FAILING:
        return "fail"
    if UNCERTAIN in statuses:
        return "review"
    return "pass"


def check_files(paths, channel_kind: str, *, workers: int | None = None, register: Register | None = None) -> dict:
    """Detection, matching and metadata for each file: {"verdict": ..., "files": [...]}."""
    register = register if register is not None else Register.load(channel_kind)
    paths = list(paths)
    workers = max(1, min(len(paths), workers or int(setting("FACE_WORKERS"))))
    if workers == 1:
        files = [check_file(p, channel_kind, register) for p in paths]
    else:
        # While one photo is being encoded (which holds the GIL), another is being scanned.
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="check") as pool:
            files = list(pool.map(lambda p: check_file(p, channel_kind, register), paths))
    return {"verdict": verdict(files), "files": files}
