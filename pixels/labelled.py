"""Labelled pictures for measuring the face engine: the hand labels of the shared test data, and
hard cases built from them (dim, half covered, tilted, tiny, a 12-megapixel class photo, a face
on screen for half a second, a phone video filmed on its side).

The labels (`tests/data/faces/labels.json`, see the README beside it) give every face in the
shared photos and video, boxed by eye, with its pose. `python manage.py bench` and the tests
both use them; nothing here touches a database.
"""

import json
import math
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from pixels import video_copy

REPO = Path(__file__).resolve().parents[1]
LABELS = REPO / "tests" / "data" / "faces" / "labels.json"
TESTDATA = REPO.parent / "shared" / "testdata"

FRONTAL = "frontal"
# Every pose but frontal is "turned": three-quarter, profile, looking down, partly covered, tiny.
POSES = ("frontal", "three-quarter", "profile", "down", "occluded", "tiny")


@dataclass(frozen=True)
class Face:
    """A labelled face: its box (top, right, bottom, left) in the picture as shown, its pose, and
    who it is (a folder name of faces/enrol) or None for someone in no register."""

    box: tuple[int, int, int, int]
    pose: str
    who: str | None
    turned: int = 0  # degrees from upright: a face lying on its side is 90
    doubtful: bool = False  # very blurred, dark or mostly hidden: a viewer can tell a face is there, barely

    @property
    def width(self) -> int:
        return self.box[1] - self.box[3]

    @property
    def frontal(self) -> bool:
        return self.pose == FRONTAL


@dataclass(frozen=True)
class VideoFace:
    """A labelled face in a video: one person's face while it is on screen, with its boxes at
    the times it was checked ([time, top, right, bottom, left], from the first frame)."""

    id: str
    who: str | None
    pose: str
    sightings: tuple[tuple[float, int, int, int, int], ...]
    doubtful: bool = False

    @property
    def start(self) -> float:
        return self.sightings[0][0]

    @property
    def end(self) -> float:
        return self.sightings[-1][0]


def labels(path: Path = LABELS) -> dict:
    return json.loads(Path(path).read_text())


def photo_faces(testdata: Path = TESTDATA, path: Path = LABELS) -> dict[Path, list[Face]]:
    """Every labelled photo (enrolment photos too) and its faces."""
    out = {}
    for name, faces in labels(path)["photos"].items():
        out[Path(testdata) / name] = [
            Face(tuple(f["box"]), f.get("pose", FRONTAL), f.get("who"), f.get("turned", 0), bool(f.get("doubtful")))
            for f in faces
        ]
    return out


def video_faces(name: str = "video/short_hamilton_clip.mp4", path: Path = LABELS) -> list[VideoFace]:
    entry = labels(path)["video"][name]
    return [
        VideoFace(f["id"], f.get("who"), f.get("pose", FRONTAL), tuple(tuple(s) for s in sorted(f["sightings"])),
                  bool(f.get("doubtful")))
        for f in entry["faces"]
    ]


def open_upright(path) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


# --- Comparing with the labels ------------------------------------------------------------------


def overlap(a, b) -> float:
    """Intersection over union of two boxes (top, right, bottom, left)."""
    top, right, bottom, left = max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = lambda box: max(0, box[1] - box[3]) * max(0, box[2] - box[0])  # noqa: E731
    return inter / (area(a) + area(b) - inter) if inter else 0.0


def same_face(truth, found) -> bool:
    """A detection counts as a labelled face when they overlap well, or one lies mostly within the
    other (a detector's box for a profile is narrower than a person's)."""
    top, right, bottom, left = max(truth[0], found[0]), min(truth[1], found[1]), min(truth[2], found[2]), max(truth[3], found[3])
    inter = max(0, right - left) * max(0, bottom - top)
    if not inter:
        return False
    area = lambda box: max(1, (box[1] - box[3]) * (box[2] - box[0]))  # noqa: E731
    return overlap(truth, found) > 0.3 or inter / min(area(truth), area(found)) > 0.6


def found_truth(truth, boxes) -> tuple[int, int]:
    """(true faces found, detections matching no true face)."""
    hits = sum(any(same_face(t, b) for b in boxes) for t in truth)
    extra = sum(not any(same_face(t, b) for t in truth) for b in boxes)
    return hits, extra


# --- Hard cases built from the labelled faces ---------------------------------------------------


def dim(image: Image.Image, brightness: float = 0.3, seed: int = 1) -> Image.Image:
    """The picture in a dim hall: darker, with a little sensor noise."""
    rng = random.Random(seed)
    dark = ImageEnhance.Brightness(image).enhance(brightness)
    noise = Image.effect_noise(image.size, 12).convert("RGB")
    return Image.blend(dark, noise, 0.04 + rng.random() * 0.01)


def hand_over(image: Image.Image, box, side: str = "left") -> Image.Image:
    """A hand-coloured shape over half of the face in box: the face is still there to be found."""
    top, right, bottom, left = box
    covered = image.copy()
    draw = ImageDraw.Draw(covered)
    middle = (left + right) // 2
    span = (left - (right - left) // 6, top + (bottom - top) // 5, middle, bottom + (bottom - top) // 6) if side == "left" \
        else (middle, top + (bottom - top) // 5, right + (right - left) // 6, bottom + (bottom - top) // 6)
    draw.ellipse(span, fill=(224, 172, 140))
    return covered


def tilted(image: Image.Image, box, degrees: float = 30) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The picture turned about the face's centre (a head on one side); the face's new box."""
    top, right, bottom, left = box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, center=(cx, cy), fillcolor=(128, 128, 128))
    half = max(right - left, bottom - top) / 2 * (abs(math.cos(math.radians(degrees))) + abs(math.sin(math.radians(degrees))))
    return turned, (round(cy - half), round(cx + half), round(cy + half), round(cx - half))


def face_crop(image: Image.Image, box, margin: float = 0.6) -> tuple[Image.Image, tuple[float, float, float, float]]:
    """The face with some of its surroundings, and where the face lies in the crop (fractions)."""
    top, right, bottom, left = box
    w, h = right - left, bottom - top
    crop_box = (round(left - margin * w), round(top - margin * h), round(right + margin * w), round(bottom + margin * h))
    crop = image.crop(crop_box)
    return crop, ((top - crop_box[1]) / crop.height, (right - crop_box[0]) / crop.width,
                  (bottom - crop_box[1]) / crop.height, (left - crop_box[0]) / crop.width)


def class_photo(sources, face_px=25, size=(4000, 3000), seed=1, testdata: Path = TESTDATA):
    """A 12-megapixel 'class photo': every source face (image, box, ...) pasted at face_px across
    on a textured background, in rows. Returns (image, true boxes in the same order as sources)."""
    rng = random.Random(seed)
    width, height = size
    # The top half of dogs.jpg: fur, carpet and grass, and no human face.
    texture = open_upright(Path(testdata) / "faces" / "posts" / "dogs.jpg").crop((0, 0, 900, 440)).resize((600, 600))
    canvas = Image.new("RGB", size)
    for y in range(0, height, 600):
        for x in range(0, width, 600):
            piece = texture.rotate(rng.choice([0, 90, 180, 270]))
            canvas.paste(ImageOps.mirror(piece) if rng.random() < 0.5 else piece, (x, y))
    columns = 7
    rows = (len(sources) + columns - 1) // columns
    cell_w, cell_h = width // columns, height // rows
    truth = []
    for k, (image, box, *_) in enumerate(sources):
        row, column = divmod(k, columns)
        # Some of the face's surroundings (YuNet needs them) but not much: in a group photo more would
        # bring in a neighbour's face too.
        crop, (ft, fr, fb, fl) = face_crop(image, box, margin=0.5)
        scale = face_px / max(1, box[1] - box[3])
        small = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.Resampling.LANCZOS)
        mask = Image.new("L", (small.width * 4, small.height * 4), 0)
        ImageDraw.Draw(mask).ellipse((0, 0, mask.width - 1, mask.height - 1), fill=255)
        mask = mask.resize(small.size, Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(1))
        x = column * cell_w + rng.randint(10, max(10, cell_w - small.width - 10))
        y = row * cell_h + rng.randint(10, max(10, cell_h - small.height - 10))
        canvas.paste(small, (x, y), mask)
        truth.append((round(y + ft * small.height), round(x + fr * small.width), round(y + fb * small.height), round(x + fl * small.width)))
    return canvas, truth


def write_video(path, frames, rate=10, times=None, codec="mpeg4") -> Path:
    """An MP4 of PIL frames; times (seconds) gives each frame's own time (a variable frame rate)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_image(image)
            frame.pts = round((times[i] if times else i / rate) * 1000)
            frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)


def box_at(face: VideoFace, time: float, slack: float = 0.02):
    """A labelled face's box at a time: between the times it was checked by straight-line motion;
    None when it is not on screen then."""
    return video_copy.box_at(face.sightings, time, margin=slack)


@dataclass(frozen=True)
class Coverage:
    """How well a video's face tracks cover one labelled face: the share of its labelled
    sightings that lie within some track's box at that time (the track is what gets blurred)."""

    face: VideoFace
    covered: int
    sightings: int

    @property
    def share(self) -> float:
        return self.covered / self.sightings if self.sightings else 1.0


def coverage(tracks, faces: list[VideoFace], margin: float = 0.25) -> tuple[list[Coverage], list]:
    """(each labelled face's coverage, the tracks that follow no labelled face). tracks: each a
    list of views [time, top, right, bottom, left]."""
    out = []
    for face in faces:
        covered = 0
        for time, *box in face.sightings:
            boxes = [video_copy.box_at(views, time, margin) for views in tracks]
            covered += any(b is not None and same_face(tuple(box), b) for b in boxes)
        out.append(Coverage(face, covered, len(face.sightings)))
    false = []
    for views in tracks:
        hits = 0
        for time, *box in views:
            truth = [box_at(face, time) for face in faces]
            hits += any(t is not None and same_face(t, tuple(box)) for t in truth)
        if hits == 0:
            false.append(views)
    return out, false
