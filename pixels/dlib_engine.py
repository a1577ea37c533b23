"""dlib's face engine: HOG detection on enlarged tiles with CNN confirmation, and dlib's 128-number
ResNet encodings.

It was the product's engine until YuNet and SFace replaced it (`pixels.detection`,
`pixels.recognition`): HOG finds frontal faces only, and its encodings separate people too
narrowly. It stays for two jobs: `make bench` measures the new engine beside it, and dlib's CNN
face detector, a family of its own, gives the second opinion on every published copy
(`pixels.second_opinion`). Encodings made here are never matched against SFace's.
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

import numpy as np
from PIL import Image

from pixels.config import setting as _setting
from pixels.detection import Found
from pixels.photos import _to_rgb

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # face_recognition_models still imports pkg_resources
    import dlib
    import face_recognition_models

MODEL_ID = "dlib-resnet-v1"


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


def setting(name):
    return _setting(name, __name__)


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

