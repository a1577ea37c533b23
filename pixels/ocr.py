"""Reading the words inside a picture: certificates, name labels on pupils' work, whiteboards,
name badges.

RapidOCR (PaddleOCR's detection and recognition models, run by onnxruntime) comes from PyPI with
its models inside the wheel, so it runs offline and needs no system package. Measured against
Tesseract 5 (Debian's package, through pytesseract) on the 18 pictures `python manage.py
bench_text` makes (certificates, name badges on a busy background, a blurred whiteboard):
RapidOCR read all 18 names, Tesseract 12 (none of the badges), at 1.7 and 1.0 s a picture on
this machine's 2 cores.
"""

import threading
from dataclasses import dataclass

from PIL import Image

# Lines read with less confidence than this are dropped: they are noise (texture, foliage).
OCR_MIN_CONFIDENCE = 0.5

_engine = None
_engine_lock = threading.Lock()
_run_lock = threading.Lock()


@dataclass(frozen=True)
class Line:
    text: str
    box: tuple[int, int, int, int]  # top, right, bottom, left, in the picture as shown
    confidence: float


def _ocr():
    global _engine
    with _engine_lock:
        if _engine is None:
            from rapidocr_onnxruntime import RapidOCR

            _engine = RapidOCR()
        return _engine


def read(image: Image.Image) -> list[Line]:
    """The lines of words in an RGB picture, top to bottom."""
    engine = _ocr()
    with _run_lock:  # one reading at a time: onnxruntime already uses every core
        result, _ = engine(image.convert("RGB"))
    lines = []
    for points, text, confidence in result or []:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        top, bottom = max(0, int(min(ys))), min(image.height, int(round(max(ys))))
        left, right = max(0, int(min(xs))), min(image.width, int(round(max(xs))))
        text = " ".join(str(text).split())
        if text and float(confidence) >= OCR_MIN_CONFIDENCE and right > left and bottom > top:
            lines.append(Line(text, (top, right, bottom, left), round(float(confidence), 3)))
    return sorted(lines, key=lambda line: (line.box[0], line.box[3]))
