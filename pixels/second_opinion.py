"""A second opinion on the published copy: RetinaFace over the whole of every published picture.

The engine (YuNet) decides which faces people review. This looks again, with a model trained
apart, at the bytes that will be published: every published photo, and a frame of every
published video each SECOND_OPINION_EVERY seconds, searched whole (not only where YuNet looked).
A face it finds that is neither blurred nor a face with consent fails `image-consent`.

Why RetinaFace and not dlib's CNN face detector, the other candidate: measured on this 2-core
machine, dlib's CNN took 95 s for one 12-megapixel photo and found none of its 25-px or 40-px
faces without enlarging it (which costs four times as much again), and 1.5 s for one 360p
frame; RetinaFace took 1.3-2 s for the photo and found 33 of 35 25-px faces, and 0.03 s a
frame. `python manage.py bench` measures both again.
"""

from dataclasses import dataclass

import av
import numpy as np
import onnxruntime
from PIL import Image
from retinaface.postprocess import postprocess as retina_postprocess
from retinaface.preprocess import preprocess as retina_preprocess

from pixels import video, weights
from pixels.config import setting as _setting
from pixels.detection import Found, _spans, merge, resized
from pixels.photos import _to_rgb

# Measured on published copies of the labelled clip with every face pixelated: the detector also
# fires on a striped collar and on fists (0.63 to 0.80); the faces people can see score 0.9 and
# more. At 0.85 it still sees 13 of the clip's 17 labelled faces somewhere, and nothing else.
# `manage.py bench` prints what it finds in published copies, which must be none.
SECOND_OPINION_SCORE = 0.85
SECOND_OPINION_EVERY = 0.5  # seconds between the frames of a published video that are searched
SECOND_OPINION_MIN_HEIGHT = 720  # smaller pictures are enlarged to this height first
SECOND_OPINION_TILE = 4096
# RetinaFace's largest anchor is 512 px: larger faces are found in a reduced pass.
RETINA_LARGEST = 512

_session = None


def setting(name):
    return _setting(name, __name__)


def _retinaface():
    global _session
    if _session is None:
        options = onnxruntime.SessionOptions()
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # see detection._yunet
        _session = onnxruntime.InferenceSession(weights.retinaface_bytes(), options, providers=["CPUExecutionProvider"])
    return _session


def _run(rgb: np.ndarray) -> list[Found]:
    inputs = retina_preprocess(rgb)
    outputs = _retinaface().run(None, {"input": inputs})
    found = retina_postprocess(outputs, *inputs.shape, score_threshold=float(setting("SECOND_OPINION_SCORE")))[0]
    return [Found(int(f.y), int(f.x + f.width), int(f.y + f.height), int(f.x), float(f.score)) for f in found]


def faces_in(image: Image.Image) -> list[Found]:
    """Every face RetinaFace sees in a picture, at every size, in the picture's pixels."""
    rgb = np.asarray(image if image.mode == "RGB" else _to_rgb(image))
    height, width = rgb.shape[:2]
    scale = max(1.0, setting("SECOND_OPINION_MIN_HEIGHT") / max(height, 1))
    scales = [scale]
    while RETINA_LARGEST / scales[-1] < min(width, height):
        scales.append(scales[-1] / 4)
    tile = int(setting("SECOND_OPINION_TILE"))
    found = []
    for s in scales:
        size = (max(1, round(width * s)), max(1, round(height * s)))
        scaled = resized(rgb, *size)
        for y0, y1 in _spans(size[1], tile, RETINA_LARGEST):
            for x0, x1 in _spans(size[0], tile, RETINA_LARGEST):
                part = np.ascontiguousarray(scaled[y0:y1, x0:x1])
                found += [f.moved(x0, y0, 1 / s) for f in _run(part)]
    return merge(found, width, height)


# At analysis, before anyone decides, the second detector searches a photo reduced to this size
# (its faces from about 30 px in a 12-megapixel photo); the published copy is searched whole.
SECOND_OPINION_ANALYSIS_MEGAPIXELS = 4.0


def extra_faces(image: Image.Image, found) -> list[Found]:
    """The faces the second detector sees in a photo where the first found none (found: the
    first's faces), so that people decide about them before approval rather than at publishing."""
    scale = min(1.0, (float(setting("SECOND_OPINION_ANALYSIS_MEGAPIXELS")) * 1e6 / max(1, image.width * image.height)) ** 0.5)
    small = image if scale == 1.0 else image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR)
    boxes = [f.box for f in found]
    return [f for f in (face.moved(0, 0, 1 / scale) for face in faces_in(small)) if not covered(f.box, boxes)]


def covered(face_box, boxes) -> bool:
    """Whether a face the second opinion found is one of these faces (their boxes): they overlap
    by at least a third of the smaller."""
    top, right, bottom, left = face_box
    for other in boxes:
        if other is None:
            continue
        t, r, b, l = other
        width, height = min(right, r) - max(left, l), min(bottom, b) - max(top, t)
        if width <= 0 or height <= 0:
            continue
        smaller = min((right - left) * (bottom - top), (r - l) * (b - t)) or 1
        if width * height >= smaller / 3:
            return True
    return False


@dataclass(frozen=True)
class Sighting:
    time: float | None  # in a video, seconds from the start; None in a photo
    face: Found


def photo(path) -> list[Sighting]:
    """The faces in a published photo."""
    with Image.open(path) as image:
        return [Sighting(None, f) for f in faces_in(image.convert("RGB"))]


def video_frames(path, every: float | None = None):
    """(time, upright frame) of a published video, one each `every` seconds."""
    every = float(every if every is not None else setting("SECOND_OPINION_EVERY"))
    next_time, first = 0.0, None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for frame in container.decode(stream):
            time = float(frame.time or 0.0)
            first = time if first is None else first
            if time - first + 1e-6 < next_time:
                continue
            next_time += every
            yield time - first, video.upright(frame).convert("RGB")


def published_video(path, every: float | None = None, progress=lambda seconds: None) -> list[Sighting]:
    """The faces in a published video's frames, one frame each `every` seconds; progress(seconds)
    is told how far it has got."""
    out = []
    for time, image in video_frames(path, every):
        out += [Sighting(time, f) for f in faces_in(image)]
        progress(time)
    return out
