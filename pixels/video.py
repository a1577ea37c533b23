"""Faces in videos: every face track of a video, identified against a gallery of enrolled faces.

A video is decoded with PyAV, every frame in order (the display matrix applied, so a phone video
filmed on its side is upright), and VIDEO_SAMPLES_PER_SECOND frames a second are searched for
faces by the same engine as photos (YuNet, RetinaFace confirming its doubtful faces), each
frame at VIDEO_DETECT_HEIGHT px high. Faces found in successive samples are joined into tracks,
and each track, not each frame, is identified: its largest views are encoded and matched as in
photos.

Why six samples a second: a face on screen for half a second is then in three samples, and a
track survives a sample or two in which the face is turned away or covered (VIDEO_TRACK_GAP).
Measured on the labelled clip by `python manage.py bench`.
"""

import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from pixels import detection, recognition
from pixels.config import setting as _setting
from pixels.detection import Found
from pixels.recognition import Match

VIDEO_SAMPLES_PER_SECOND = 6
# Every sample is searched at this height (a 360p video enlarged twice, a 1080p one reduced):
# a face 10 px high at that height is YuNet's smallest, so 5 px in 360p and 15 px in 1080p.
VIDEO_DETECT_HEIGHT = 720
# A face already followed is followed on from a lower score than a new face needs (it turns, or
# goes into shadow); a new track needs detection.FACE_MIN_SCORE and then a sure score or RetinaFace.
VIDEO_FOLLOW_SCORE = 0.3
# A face seen in this many samples in a row, with a median score from VIDEO_STEADY_SCORE, counts
# without a sure score or RetinaFace (a face in profile close up scores 0.55-0.79 throughout and
# RetinaFace, trained on fewer profiles, does not confirm it); a chance pattern seldom holds so long.
VIDEO_STEADY_SAMPLES = 3
VIDEO_STEADY_SCORE = 0.65
# Samples a track may miss (a face turned away, a hand in front) before it ends.
VIDEO_TRACK_GAP = 3
# A cut from one shot to another ends every track: a face after a cut is never taken for the face
# before it, even where it stands in the same place. A cut is a colour histogram (hue and
# saturation) this far from the last sample's (Bhattacharyya distance): measured on the labelled
# clip, its three cuts are 0.36 to 0.57 from the sample before, and within a shot (a pan, people
# moving) at most 0.18.
VIDEO_CUT_DISTANCE = 0.3
# Views of each track encoded and matched: its largest ones.
VIDEO_VIEWS_PER_TRACK = 3
# And one view every this many seconds through the track, each of which must be the same person
# for the track to be identified without a person: a track that strayed from one face to another
# is never passed on the strength of its best view.
VIDEO_CHECK_EVERY_SECONDS = 1.0
# Limits, refused with a message when exceeded.
VIDEO_MAX_SECONDS = 15 * 60
VIDEO_MAX_PIXELS = 1920 * 1080 * 2  # 4K is refused: resize it first


def setting(name):
    return _setting(name, __name__)


class VideoRejected(ValueError):
    """The video cannot be checked. The message names the file and says what is wrong."""


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as shown, rotation applied
    height: int
    seconds: float
    fps: float
    rotation: int
    frames: int | None


# Containers accepted (FFmpeg's names): MP4 and MOV, and WebM. FFmpeg also opens text files as
# "videos" (its tty format): content is judged by the container it really is.
VIDEO_FORMATS = {"mov,mp4,m4a,3gp,3g2,mj2": "MP4", "matroska,webm": "WebM"}


def looks_like_video(path) -> bool:
    """Whether the file is in an accepted video container (not whether it plays)."""
    try:
        with av.open(str(path)) as container:
            return container.format.name in VIDEO_FORMATS
    except Exception:
        return False


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds % 60 else f"{seconds // 60} min"


def _who(path, name=None) -> str:
    return f"'{name or Path(path).name}'"


def inspect(path, name=None) -> VideoInfo:
    """Check a video can be analysed: a video stream, frames that decode, within the limits."""
    who = _who(path, name)
    path = Path(path)
    if not path.exists():
        raise VideoRejected(f"{who} does not exist.")
    if path.stat().st_size == 0:
        raise VideoRejected(f"{who} is empty (0 bytes): it is not a video.")
    try:
        container = av.open(str(path))
    except Exception as error:
        raise VideoRejected(f"{who} is not a video that can be read ({error}).") from None
    with container:
        if container.format.name not in VIDEO_FORMATS:
            raise VideoRejected(f"{who} is not an MP4, MOV or WebM video (its content is {container.format.long_name}).")
        if not container.streams.video:
            raise VideoRejected(f"{who} has no video in it (only {', '.join(s.type for s in container.streams) or 'nothing'}).")
        stream = container.streams.video[0]
        if stream.codec_context.name in ("png", "mjpeg", "bmp", "gif", "webp") and (stream.frames or 0) <= 1:
            raise VideoRejected(f"{who} is a still image ({stream.codec_context.name}), not a video: upload it as a photo.")
        # The size the file declares, refused before a frame is decoded: a small file can declare
        # 8192 x 8192, and decoding one such frame costs seconds and half a gigabyte.
        declared = (stream.codec_context.width or 0) * (stream.codec_context.height or 0)
        if declared > setting("VIDEO_MAX_PIXELS"):
            raise VideoRejected(
                f"{who} is {stream.codec_context.width}×{stream.codec_context.height}: more than the "
                f"{setting('VIDEO_MAX_PIXELS') / 1e6:.1f} megapixels a frame allowed. Export it at 1080p."
            )
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except Exception as error:
            raise VideoRejected(f"{who} is damaged: its first frame cannot be decoded ({error}).") from None
        if first is None:
            raise VideoRejected(f"{who} has no frames that can be decoded.")
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        seconds = float(container.duration / av.time_base) if container.duration else (
            float(stream.duration * stream.time_base) if stream.duration else 0.0)
        fps = float(stream.average_rate or stream.guessed_rate or 25)
    if width * height > setting("VIDEO_MAX_PIXELS"):
        raise VideoRejected(f"{who} is {width}×{height}: more than the {setting('VIDEO_MAX_PIXELS') / 1e6:.1f} megapixels a frame allowed. Export it at 1080p.")
    if seconds > setting("VIDEO_MAX_SECONDS"):
        raise VideoRejected(f"{who} lasts {_duration(seconds)}: more than the {_duration(setting('VIDEO_MAX_SECONDS'))} allowed. Shorten it first.")
    return VideoInfo(width, height, seconds, fps, rotation, stream.frames or None)


def upright(frame) -> Image.Image:
    """The frame as it is meant to be seen: the display matrix's rotation applied."""
    image = frame.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    # The display matrix gives the angle counter-clockwise; PIL rotates counter-clockwise too.
    if rotation:
        image = image.rotate(rotation, expand=True)
    return image


@dataclass
class View:
    """One sighting of a face: when, where (in the upright frame), and how sure the detector was."""

    time: float
    face: Found
    crop: Image.Image | None = None  # the face's neighbourhood, kept for encoding
    crop_face: Found | None = None  # the face inside crop, with its landmarks
    check: bool = False  # one of the views spread through the track that must all be the same person

    @property
    def crop_box(self) -> tuple[int, int, int, int] | None:
        return self.crop_face.box if self.crop_face is not None else None


@dataclass
class Track:
    views: list[View] = field(default_factory=list)
    confirmed: bool = False  # seen once with a score a new face needs, or confirmed by RetinaFace
    misses: int = 0
    match: Match | None = None
    view: View | None = None  # the view that was matched best, its neighbourhood kept

    @property
    def start(self) -> float:
        return self.views[0].time

    @property
    def end(self) -> float:
        return self.views[-1].time

    @property
    def best(self) -> View:
        return max(self.views, key=lambda v: (v.face.width, v.face.score))

    def box_at(self, time: float) -> tuple[int, int, int, int]:
        """The face's box at any time of the track, between sightings by straight-line motion."""
        before = [v for v in self.views if v.time <= time] or self.views[:1]
        after = [v for v in self.views if v.time >= time] or self.views[-1:]
        a, b = before[-1], after[0]
        if b.time == a.time:
            return a.face.box
        k = (time - a.time) / (b.time - a.time)
        return tuple(round(x + (y - x) * k) for x, y in zip(a.face.box, b.face.box))


def _near(track: Track, face: Found) -> float:
    """How well a face continues a track: 0 (not at all) to 1."""
    last = track.views[-1].face
    size = max(last.width, 1)
    centre = math.dist(((last.left + last.right) / 2, (last.top + last.bottom) / 2),
                       ((face.left + face.right) / 2, (face.top + face.bottom) / 2))
    ratio = face.width / size
    # A face may move further between samples the more samples it was missed in; it grows or
    # shrinks gradually (a faster change is another face nearby).
    reach = 1.2 * size * (1 + track.misses)
    if centre > reach or not 0.67 <= ratio <= 1.5:
        return 0.0
    return 1.0 - centre / reach


def _crop(image: Image.Image, face: Found) -> tuple[Image.Image, Found]:
    margin = max(face.width, face.height)
    box = (max(0, face.left - margin), max(0, face.top - margin), min(image.width, face.right + margin), min(image.height, face.bottom + margin))
    return image.crop(box), face.moved(-box[0], -box[1])


class Tracker:
    """Joins the faces of successive samples into tracks. A track counts once one of its faces
    was sure (FACE_SURE_SCORE) or RetinaFace confirmed one; confirm(face) asks RetinaFace."""

    def __init__(self, confirm, scale: float = 1.0):
        self.confirm = confirm
        self.scale = scale  # of the pictures add() is given, against the frame's own size
        self.active: list[Track] = []
        self.ended: list[Track] = []

    def add(self, time: float, image: Image.Image, found: list[Found]) -> None:
        """The faces found in one sample (found: in the frame's own pixels; image: the upright
        frame, scaled by self.scale)."""
        sure = float(detection.setting("FACE_SURE_SCORE"))
        new_from = float(detection.setting("FACE_MIN_SCORE"))
        unmatched = sorted(found, key=lambda f: -f.score)
        for track in sorted(self.active, key=lambda t: -t.views[-1].face.width):
            scored = [(_near(track, f), f) for f in unmatched]
            scored = [(s, f) for s, f in scored if s > 0]
            if scored:
                _, face = max(scored, key=lambda x: x[0])
                unmatched.remove(face)
                track.views.append(View(time, face))
                track.misses = 0
            else:
                track.misses += 1
        for face in unmatched:
            if face.score >= new_from:
                self.active.append(Track(views=[View(time, face)]))
        still = []
        for track in self.active:
            (self.ended if track.misses > setting("VIDEO_TRACK_GAP") else still).append(track)
        self.active = still
        for track in self.active:
            view = track.views[-1]
            if view.time != time:
                continue
            if not track.confirmed:
                track.confirmed = view.face.score >= sure or self.confirm(image, view.face)
            # Keep the neighbourhoods of each track's largest views, and of one view a second, for
            # encoding later.
            if view.crop is None:
                view.crop, view.crop_face = _crop(image, view.face.moved(0, 0, self.scale))
            checked = [v for v in track.views if v.check]
            if not checked or time - checked[-1].time >= setting("VIDEO_CHECK_EVERY_SECONDS"):
                view.check = True
            kept = sorted(track.views, key=lambda v: -v.face.width)[: setting("VIDEO_VIEWS_PER_TRACK")]
            for v in track.views:
                if v not in kept and not v.check and v.crop is not None:
                    v.crop = None

    def cut(self) -> None:
        """The shot changed: every track ends here."""
        self.ended += self.active
        self.active = []

    def finish(self) -> list[Track]:
        tracks = self.ended + self.active
        self.ended, self.active = [], []
        return sorted([t for t in tracks if t.confirmed or _steady(t)], key=lambda t: (t.start, t.views[0].face.left))


def _steady(track: Track) -> bool:
    """Whether a track was seen long and well enough to count without confirmation."""
    scores = sorted(v.face.score for v in track.views)
    return len(scores) >= setting("VIDEO_STEADY_SAMPLES") and scores[len(scores) // 2] >= setting("VIDEO_STEADY_SCORE")


@dataclass
class VideoReport:
    info: VideoInfo
    tracks: list[Track]
    samples: int
    every: int  # frames between samples


_pool = None


def _detection_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="video-faces")
    return _pool


def colours(image: Image.Image) -> np.ndarray:
    """A sample's hue and saturation histogram, to tell a cut from movement within a shot."""
    hsv = cv2.cvtColor(cv2.resize(np.asarray(image), (160, 90), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
    return cv2.normalize(histogram, histogram)


def is_cut(before: np.ndarray | None, after: np.ndarray) -> bool:
    if before is None:
        return False
    return cv2.compareHist(before, after, cv2.HISTCMP_BHATTACHARYYA) > float(setting("VIDEO_CUT_DISTANCE"))


def _search(image: Image.Image, scale: float) -> list[Found]:
    """The candidates in one sample (already scaled by `scale`), in the frame's own pixels."""
    found = detection.detect_candidates(image, base_scale=1.0, min_score=float(setting("VIDEO_FOLLOW_SCORE")))
    return [f.moved(0, 0, 1 / scale) for f in found]


def upright_scaled(frame, scale: float) -> Image.Image:
    """The frame upright, scaled by FFmpeg's scaler as it is converted (far cheaper than
    converting it whole and then scaling it)."""
    if scale == 1.0:
        return upright(frame).convert("RGB")
    small = frame.reformat(width=max(2, round(frame.width * scale)), height=max(2, round(frame.height * scale)), format="rgb24",
                           interpolation="AREA" if scale < 1 else "BILINEAR")
    image = small.to_image()
    rotation = int(getattr(frame, "rotation", 0) or 0) % 360
    return image.rotate(rotation, expand=True) if rotation else image


def analyse(path, gallery: recognition.Gallery, name=None, progress=lambda f: None, on_sample=None) -> VideoReport:
    """Every face track of a video, each matched against the gallery. VideoRejected says what
    is wrong with a video that cannot be analysed. on_sample(time, picture) is called at each
    sample; picture() gives the frame upright and at its own size (for reading its words)."""
    info = inspect(path, name)
    every = max(1, round(info.fps / float(setting("VIDEO_SAMPLES_PER_SECOND"))))
    scale = setting("VIDEO_DETECT_HEIGHT") / max(info.height, 1)
    pool = _detection_pool()
    tracker = Tracker(lambda image, face: detection.confirmed(np.asarray(image), face.moved(0, 0, scale)), scale)
    pending: deque = deque()
    samples = 0
    last_colours = None

    def settle(block: bool):
        while pending and (block or pending[0][2].done()):
            time, image, future, cut = pending.popleft()
            if cut:
                tracker.cut()
            tracker.add(time, image, future.result())

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            index = -1
            start = None
            for frame in container.decode(stream):
                index += 1
                if index % every:
                    continue
                time = float(frame.time) if frame.time is not None else index / info.fps
                start = time if start is None else start
                image = upright_scaled(frame, scale)
                if on_sample is not None:
                    on_sample(time - start, lambda frame=frame: upright(frame).convert("RGB"))
                now = colours(image)
                pending.append((time - start, image, pool.submit(_search, image, scale), is_cut(last_colours, now)))
                last_colours = now
                samples += 1
                settle(block=len(pending) >= 4)
                if info.seconds:
                    progress(min(0.9, 0.9 * (time - start) / info.seconds))
            settle(block=True)
    except av.error.FFmpegError as error:
        raise VideoRejected(f"{_who(path, name)} is damaged or cut short ({error}); {samples} samples could be read.") from None
    if samples == 0:
        raise VideoRejected(f"{_who(path, name)} has no frames that can be decoded.")
    tracks = tracker.finish()
    for track in tracks:
        if len(gallery):
            track.match, track.view = _identify(track, gallery)
        else:  # nobody is enrolled: nothing to compare with
            track.view = max((v for v in track.views if v.crop is not None), key=lambda v: v.face.width, default=track.best)
            track.match = Match(recognition.UNKNOWN, None, None, track.view.face.box)
        for other in track.views:
            if other is not track.view:
                other.crop = None
    progress(1.0)
    return VideoReport(info, tracks, samples, every)


def _identify(track: Track, gallery: recognition.Gallery) -> tuple[Match, View]:
    """Match the track's largest views. It is identified without a person only when every view
    checked through it (one a second) is that same person: views that disagree make it uncertain."""
    largest = sorted((v for v in track.views if v.crop is not None), key=lambda v: -v.face.width)[: setting("VIDEO_VIEWS_PER_TRACK")]
    results = [(identify_view(v.crop, v.crop_face, v.face.width, gallery), v) for v in largest]
    if not results:
        return Match(recognition.UNKNOWN, None, None, track.best.face.box), track.best
    best, view = min(results, key=lambda r: r[0].distance if r[0].distance is not None else 9)
    if best.status in (recognition.CONSENTED, recognition.NO_CONSENT):
        checks = [(identify_view(v.crop, v.crop_face, v.face.width, gallery), v) for v in track.views
                  if v.check and v.crop is not None and v not in largest]
        possible = recognition.setting("FACE_MATCH_POSSIBLE")
        same = all(m.pupil is best.pupil and m.distance is not None and m.distance <= possible for m, _ in results + checks)
        if not same:
            best = Match(recognition.UNCERTAIN, best.pupil, best.distance, best.box)
    return Match(best.status, best.pupil, best.distance, view.face.box), view


def identify_view(crop: Image.Image, face, width: int, gallery: recognition.Gallery) -> Match:
    """Match one kept view of a face: its neighbourhood, and the face in it (a Found with its
    landmarks, or a box top, right, bottom, left whose landmarks are looked for again)."""
    encoding = recognition.encode_face(crop, face if isinstance(face, Found) else tuple(int(v) for v in face))
    box = face.box if isinstance(face, Found) else tuple(int(v) for v in face)
    return recognition.match_encodings([encoding], [width], gallery, [box])[0]


def report_faces(report: VideoReport) -> list[dict]:
    """check_media's face entries for a video: the same shape as a photo's, with start and end."""
    out = []
    for track in report.tracks:
        m = track.match
        out.append({
            "box": [int(v) for v in track.best.face.box],
            "status": m.status,
            "upn": m.upn if m.status != recognition.UNKNOWN else None,
            "distance": round(float(m.distance), 4) if m.distance is not None else None,
            "start": round(track.start, 2),
            "end": round(track.end, 2),
        })
    return out


# QuickTime and MP4 tags that say where a video was filmed, or on what.
LOCATION_TAGS = {"location", "location-eng", "com.apple.quicktime.location.iso6709", "©xyz", "xyz"}
DEVICE_TAGS = {"make", "model", "com.apple.quicktime.make", "com.apple.quicktime.model", "com.android.manufacturer", "com.android.model"}
SOFTWARE_TAGS = {"software", "com.apple.quicktime.software", "com.android.version"}


def metadata_names(path) -> list[str]:
    """What a video's container says about where and on what it was filmed: "GPS", "device", "software"."""
    found = set()
    with av.open(str(path)) as container:
        tags = [container.metadata] + [s.metadata for s in container.streams]
        for key in (k.lower() for t in tags for k in t):
            if key in LOCATION_TAGS or "location" in key:
                found.add("GPS")
            elif key in DEVICE_TAGS:
                found.add("device")
            elif key in SOFTWARE_TAGS:
                found.add("software")
    return sorted(found, key=["GPS", "device", "software"].index)



# --- A face marked by a person on one frame -------------------------------------------------------

# How far either side of the marked frame the face is followed (within its shot).
VIDEO_MARK_FOLLOW_SECONDS = 5.0
# Frames are followed at this height (OpenCV's MIL tracker, which needs no model file).
VIDEO_MARK_HEIGHT = 360


def _frames_around(path, time: float, seconds: float, scale: float, every: float):
    """(time from the first frame, the frame reduced by `scale`, the frame at VIDEO_DETECT_HEIGHT or
    None) for every frame within `seconds` of `time`; the larger one only every `every` seconds,
    for the detector (so that ten seconds of 1080p are not all held at full size)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first, next_large = None, None
        for frame in container.decode(stream):
            now = float(frame.time or 0.0)
            first = now if first is None else first
            at = now - first
            if at < time - seconds:
                continue
            if at > time + seconds:
                break
            image = upright(frame).convert("RGB")
            small = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
            large = None
            if next_large is None or at >= next_large - 1e-6:
                factor = setting("VIDEO_DETECT_HEIGHT") / image.height
                large = (image.resize((round(image.width * factor), round(image.height * factor))), factor)
                next_large = at + every
            yield at, small, large


def follow(path, time: float, box, name=None) -> list[list[float]]:
    """Where a face marked on the frame at `time` (box: top, right, bottom, left, in the upright
    frame) is in the frames around it: followed backwards and forwards by a visual tracker until it
    is lost, the shot changes, or VIDEO_MARK_FOLLOW_SECONDS pass; where the detector also finds
    the face, its box is taken. Sightings [time, top, right, bottom, left], about one each
    sample, the marked one first among equals."""
    info = inspect(path, name)
    every = 1 / float(setting("VIDEO_SAMPLES_PER_SECOND"))
    scale = min(1.0, setting("VIDEO_MARK_HEIGHT") / max(info.height, 1))
    frames = list(_frames_around(path, time, float(setting("VIDEO_MARK_FOLLOW_SECONDS")), scale, every))
    if not frames:
        raise VideoRejected(f"{_who(path, name)} has no frame at {time:.1f} s.")
    marked = min(range(len(frames)), key=lambda i: abs(frames[i][0] - time))
    top, right, bottom, left = (int(v) for v in box)
    sightings = {round(frames[marked][0], 3): [top, right, bottom, left]}
    for step in (1, -1):
        for when, where in _follow_one_way(frames, marked, step, (top, right, bottom, left), scale).items():
            sightings.setdefault(when, where)
    return [[when, *where] for when, where in sorted(sightings.items())]


def _refined(large, where):
    """The detector's box for the face the tracker holds at `where`, when it sees one there."""
    image, factor = large
    top, right, bottom, left = (round(v * factor) for v in where)
    width, height = right - left, bottom - top
    x0, y0 = max(0, left - width), max(0, top - height)
    crop = image.crop((x0, y0, min(image.width, right + width), min(image.height, bottom + height)))
    for face in detection.detect_candidates(crop, base_scale=1.0, min_score=float(setting("VIDEO_FOLLOW_SCORE"))):
        moved = face.moved(x0, y0, 1 / factor)
        if detection.overlap(moved.box, where) > 0.3:
            return list(moved.box)
    return list(where)


def _follow_one_way(frames, start: int, step: int, box, scale: float) -> dict:
    def bgr(image):
        return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)

    top, right, bottom, left = box
    tracker = cv2.TrackerMIL_create()
    tracker.init(bgr(frames[start][1]), (round(left * scale), round(top * scale), max(1, round((right - left) * scale)),
                                         max(1, round((bottom - top) * scale))))
    out, last_colours = {}, colours(frames[start][1])
    index = start + step
    while 0 <= index < len(frames):
        when, small, large = frames[index]
        now_colours = colours(small)
        if is_cut(last_colours, now_colours):
            break
        last_colours = now_colours
        found, (x, y, w, h) = tracker.update(bgr(small))
        if not found or w <= 0 or h <= 0:
            break
        if large is not None:
            where = (round(y / scale), round((x + w) / scale), round((y + h) / scale), round(x / scale))
            out[round(when, 3)] = _refined(large, where)
        index += step
    return out
