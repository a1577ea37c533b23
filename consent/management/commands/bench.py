"""python manage.py bench: measure the face engine on the labelled test data, on this machine.

Prints, from one run: the detection settings chosen and what they find compared with the
library's own settings; recall and false accepts on the labelled photos; the distances the
matching bands were set from; seconds per 12-megapixel photo for the whole gate against the
same photos through bare face_recognition calls; a 30-photo draft end to end on all cores; and
matching one face against 2,000 enrolled pupils.

Nothing is written to the database: the register here is built in memory.
"""

import io
import json
import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand
from django.test import override_settings
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from consent import crypto, faces
from consent.models import Pupil

DEFAULT_TESTDATA = Path(settings.BASE_DIR).parent / "shared" / "testdata"
VIDEO_STEP = 15  # every 15th frame of the clip
# labels.json: "a second performer appears near frame 240". From frame 225 the clip shows the
# audience, several faces, Obama's among them (in profile): those frames are not labelled face by face.
UNLABELLED_FROM = 225


# --- Test images built from the labelled faces (also used by the tests) -------------------------


def open_oriented(path) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def labels(testdata=DEFAULT_TESTDATA) -> dict:
    return json.loads((Path(testdata) / "labels.json").read_text())


def labelled_boxes(label) -> list[tuple[int, int, int, int]]:
    return [(b["top"], b["left"] + b["width"], b["top"] + b["height"], b["left"]) for b in label.get("face_boxes", [])]


def source_faces(testdata=DEFAULT_TESTDATA) -> list[tuple[Image.Image, tuple[int, int, int, int], str | None]]:
    """Every labelled face: (image, box, person or None for a stranger). Boxes of the group photos
    are the hand-drawn ones; the others are face_recognition's own (upsampled once)."""
    import face_recognition

    testdata = Path(testdata)
    out = []
    for name, label in labels(testdata)["posts"].items():
        image = open_oriented(testdata / name)
        if "face_boxes" in label:
            out += [(image, box, None) for box in labelled_boxes(label)]
        else:
            boxes = sorted(face_recognition.face_locations(np.asarray(image), 1), key=lambda b: b[3])
            people = label["people"] if len(label["people"]) == len(boxes) else [None] * len(boxes)
            if name.endswith("two_people.jpg"):
                people = ["obama", "biden"]  # left to right
            out += [(image, box, who) for box, who in zip(boxes, people)]
    for path in sorted((testdata / "faces" / "enrol").glob("*/*")):
        image = open_oriented(path)
        out += [(image, box, path.parent.name) for box in face_recognition.face_locations(np.asarray(image), 1)]
    return out


def class_photo(sources, face_px=25, size=(4000, 3000), seed=1, testdata=DEFAULT_TESTDATA):
    """A 12-megapixel 'class photo': every source face pasted at face_px across on a textured
    background, in rows. Returns (image, true boxes in the same order as sources)."""
    rng = random.Random(seed)
    width, height = size
    # The top half of dogs.jpg: fur, carpet and grass, and no human face (the bottom half has a
    # small photo of a person on a shelf).
    texture = open_oriented(Path(testdata) / "faces" / "posts" / "dogs.jpg").crop((0, 0, 900, 440)).resize((600, 600))
    canvas = Image.new("RGB", size)
    for y in range(0, height, 600):
        for x in range(0, width, 600):
            piece = texture.rotate(rng.choice([0, 90, 180, 270]))
            canvas.paste(ImageOps.mirror(piece) if rng.random() < 0.5 else piece, (x, y))
    columns = 7
    rows = (len(sources) + columns - 1) // columns
    cell_w, cell_h = width // columns, height // rows
    truth = []
    for k, (image, (top, right, bottom, left), _) in enumerate(sources):
        row, column = divmod(k, columns)
        w, h = right - left, bottom - top
        scale = face_px / w
        box = (round(left - 0.6 * w), round(top - 0.7 * h), round(right + 0.6 * w), round(bottom + 0.6 * h))
        crop = image.crop(box)
        size_small = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
        small = crop.resize(size_small, Image.Resampling.LANCZOS)
        mask = Image.new("L", (size_small[0] * 4, size_small[1] * 4), 0)
        ImageDraw.Draw(mask).ellipse((0, 0, mask.width - 1, mask.height - 1), fill=255)
        mask = mask.resize(size_small, Image.Resampling.LANCZOS).filter(ImageFilter.GaussianBlur(1))
        x = column * cell_w + rng.randint(10, cell_w - size_small[0] - 10)
        y = row * cell_h + rng.randint(10, cell_h - size_small[1] - 10)
        canvas.paste(small, (x, y), mask)
        face_top, face_left = y + (top - box[1]) * scale, x + (left - box[0]) * scale
        truth.append((round(face_top), round(face_left + w * scale), round(face_top + h * scale), round(face_left)))
    return canvas, truth


def av_open(path, mode="r"):
    import av

    return av.open(str(path), mode)


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), or None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle and iowait
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def iou(a, b) -> float:
    top, right, bottom, left = max(a[0], b[0]), min(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    area = lambda box: (box[1] - box[3]) * (box[2] - box[0])  # noqa: E731
    return inter / (area(a) + area(b) - inter) if inter else 0.0


def found_truth(truth, boxes) -> tuple[int, int]:
    """(true faces found, detections matching no true face)."""
    hits = sum(any(iou(t, b) > 0.3 for b in boxes) for t in truth)
    extra = sum(not any(iou(t, b) > 0.3 for t in truth) for b in boxes)
    return hits, extra


def jpeg(image: Image.Image, path: Path, quality=90) -> Path:
    image.save(path, "JPEG", quality=quality)
    return path


# --- The command -------------------------------------------------------------------------------


class Command(BaseCommand):
    help = "Benchmark face detection and matching on the labelled test data (nothing is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--testdata", default=str(DEFAULT_TESTDATA), help="the labelled test data (default: %(default)s)")
        parser.add_argument("--draft", type=int, default=30, help="photos in the end-to-end draft (default: %(default)s)")
        parser.add_argument("--quick", action="store_true", help="skip the slow comparisons with the library's own settings")

    def handle(self, *args, testdata, draft, quick, **options):
        self.testdata = Path(testdata)
        self.labels = labels(self.testdata)
        self.cores = os.cpu_count() or 1
        started = time.perf_counter()
        self.out(f"Face engine benchmark on this machine: {self.cores} cores, load average {os.getloadavg()[0]:.2f} at the start.")
        self.out("(Other work on the machine slows the timings; the load average is shown beside each.)")
        params = faces.DetectionSettings.current()
        self.section("Settings chosen")
        self.out(f"Detection: {params.describe()}.")
        self.out(
            f"Threads: {faces.setting('FACE_WORKERS')} for detection; files of a draft {faces.setting('FACE_WORKERS')} at a time; "
            f"{faces.setting('FACE_PROCESSES')} worker processes for the CNN checks and the encodings (they hold Python's lock)."
        )
        self.out(
            f"Matching: consented at distance <= {faces.setting('FACE_MATCH_CONFIDENT')} with the second-nearest pupil at least "
            f"{faces.setting('FACE_MATCH_MARGIN')} further and the face at least {faces.setting('FACE_MIN_IDENTIFY_PX')} px wide; "
            f"uncertain up to {faces.setting('FACE_MATCH_POSSIBLE')}; unknown beyond."
        )
        with tempfile.TemporaryDirectory(prefix="face-bench-") as scratch:
            self.scratch = Path(scratch)
            self.sources = source_faces(self.testdata)
            register, people = self.enrol_everyone()
            self.labelled_detection(params)
            self.labelled_matching(register, people)
            class_photos = self.small_faces(params, quick)
            self.video_tracks(register)
            self.gate_against_bare(register, class_photos[0])
            self.draft(register, draft, class_photos)
            self.large_register(register)
        self.out(f"\nBenchmark finished in {time.perf_counter() - started:.0f} s.")

    # -- helpers

    def out(self, text=""):
        self.stdout.write(text)
        self.stdout.flush()

    def section(self, title):
        self.out(f"\n== {title} ==")

    def load(self):
        return f"load {os.getloadavg()[0]:.1f}"

    # -- the register of the labelled people

    def enrol_everyone(self):
        """Each person of faces/enrol as a pupil with consent for every channel, enrolled from all their photos."""
        pupils, encodings, owners, people = [], [], [], []
        for number, folder in enumerate(sorted((self.testdata / "faces" / "enrol").iterdir())):
            pupil = Pupil(upn=f"B{number:012d}", legal_forename=folder.name, legal_surname="(test data)")
            for path in sorted(folder.iterdir()):
                image = faces.load_image(path)
                found = faces.detect_faces(image)
                if len(found) != 1:
                    raise SystemExit(f"{path} shows {len(found)} faces: enrolment needs exactly one.")
                encodings.append(faces.encode(image, found[0].box))
                owners.append(number)
            pupils.append(pupil)
            people.append(folder.name)
        return faces.Register(pupils, [True] * len(pupils), np.array(encodings), owners), people

    # -- detection on the labelled photos

    def labelled_detection(self, params):
        self.section("Detection on the labelled photos (faces/posts, faces/enrol)")
        found_total = labelled_total = extra_total = 0
        started = time.perf_counter()
        for name, label in self.labels["posts"].items():
            image = faces.load_image(self.testdata / name)
            boxes = [f.box for f in faces.detect_faces(image, params)]
            if "face_boxes" in label:
                hits, extra = found_truth(labelled_boxes(label), boxes)
                expected = len(label["face_boxes"])
            else:
                expected = len(label["people"])
                hits, extra = min(expected, len(boxes)), max(0, len(boxes) - expected)
            found_total, labelled_total, extra_total = found_total + hits, labelled_total + expected, extra_total + extra
            self.out(f"  {Path(name).name:22} {image.width}x{image.height}: {hits}/{expected} faces found, {extra} false")
        enrol_ok = 0
        enrol_photos = sorted((self.testdata / "faces" / "enrol").glob("*/*"))
        for path in enrol_photos:
            enrol_ok += len(faces.detect_faces(faces.load_image(path), params)) == 1
        self.out(
            f"Recall {found_total}/{labelled_total} on the posts, {extra_total} false detections; "
            f"{enrol_ok}/{len(enrol_photos)} enrolment photos show exactly one face "
            f"({time.perf_counter() - started:.1f} s, {self.load()})."
        )

    # -- matching on the labelled photos and the video

    def labelled_matching(self, register, people):
        self.section("Matching on the labelled data: each person of faces/enrol enrolled, every face matched")
        genuine, strangers, impostors = [], [], []
        statuses = {status: 0 for status in faces.STATUSES}
        false_accepts, known_faces, known_consented, unlabelled = [], 0, 0, []

        def nearest_by_person(encoding):
            distances = np.linalg.norm(register.encodings - encoding, axis=1)
            return {people[i]: float(distances[register.owners == i].min()) for i in range(len(people))}

        # Leave one out: each enrolment photo against the person's other photos.
        by_person = {}
        for i, owner in enumerate(register.owners):
            by_person.setdefault(people[owner], []).append(register.encodings[i])
        for person, vectors in by_person.items():
            for i, vector in enumerate(vectors):
                others = [np.linalg.norm(vector - v) for j, v in enumerate(vectors) if j != i]
                if others:
                    genuine.append((min(others), f"{person}, enrolment photos"))

        def judge(image, face, truth_person, where):
            nonlocal known_faces, known_consented
            encoding = faces.encode(image, face.box)
            match = faces.match_encodings([encoding], [face.width], register, [face.box])[0]
            statuses[match.status] += 1
            d = nearest_by_person(encoding)
            if truth_person is None:
                strangers.extend(d.values())
            else:
                known_faces += 1
                genuine.append((d[truth_person], f"{truth_person}, {where}, {face.width} px"))
                impostors.extend(v for k, v in d.items() if k != truth_person)
                known_consented += match.status == faces.CONSENTED and match.pupil.legal_forename == truth_person
            identified = match.status in (faces.CONSENTED, faces.NO_CONSENT)
            if identified and match.pupil.legal_forename != truth_person:
                false_accepts.append(f"{where}: a face of {truth_person or 'a stranger'} taken for {match.pupil.legal_forename}")

        for name, label in self.labels["posts"].items():
            image = faces.load_image(self.testdata / name)
            found = sorted(faces.detect_faces(image), key=lambda f: f.left)
            if "face_boxes" in label:
                for face in found:
                    judge(image, face, None, Path(name).name)
                continue
            people_here = label["people"] if len(label["people"]) == len(found) else []
            if name.endswith("two_people.jpg") and len(found) == 2:
                people_here = ["obama", "biden"]  # left to right
            for face, who in zip(found, people_here):
                judge(image, face, who, Path(name).name)

        video = self.testdata / "video" / "short_hamilton_clip.mp4"
        frames = 0
        if video.exists():
            import av

            with av.open(str(video)) as container:
                for index, frame in enumerate(container.decode(video=0)):
                    if index % VIDEO_STEP:
                        continue
                    frames += 1
                    image = frame.to_image().convert("RGB")
                    found = faces.detect_faces(image)
                    # Who is who is known only for the frames with one face before the audience
                    # is shown; the others count in the statuses only.
                    if len(found) == 1 and index < UNLABELLED_FROM:
                        judge(image, found[0], "lin_manuel_miranda", f"video frame {index}")
                    else:
                        for face in found:
                            encoding = faces.encode(image, face.box)
                            match = faces.match_encodings([encoding], [face.width], register, [face.box])[0]
                            statuses[match.status] += 1
                            unlabelled.append(f"frame {index}, {face.width} px: {match.status}"
                                              + (f" ({match.pupil.legal_forename}, {match.distance:.3f})" if match.pupil else ""))

        genuine.sort()
        g = [d for d, _ in genuine]
        self.out(f"Same person (n={len(g)}): min {min(g):.3f}, median {statistics.median(g):.3f}, max {max(g):.3f}")
        for d, what in genuine:
            self.out(f"    {d:.3f}  {what}")
        others = impostors + strangers
        self.out(
            f"Different people (n={len(others)}, of which {len(strangers)} pairs with the strangers of the group photos): "
            f"min {min(others):.3f}, 5th percentile {np.percentile(others, 5):.3f}, median {statistics.median(others):.3f}"
        )
        self.out(
            f"Faces matched: {sum(statuses.values())} (posts and {frames} video frames): "
            + ", ".join(f"{count} {status}" for status, count in statuses.items())
        )
        if unlabelled:
            self.out("Video faces not labelled one by one (audience from frame 225, second faces): " + "; ".join(unlabelled))
        self.out(f"Known faces recognised with confidence (consented): {known_consented}/{known_faces}; the rest are uncertain, for a person.")
        self.out(f"FALSE ACCEPTS: {len(false_accepts)}" + "".join(f"\n    {fa}" for fa in false_accepts))
        self.out(
            "Note: obama-480p, obama_small and biden in two_people are the enrolment photos themselves, resized "
            "(distances near 0.05); the other same-person pairs are different photos."
        )

    # -- small faces: 12-megapixel class photos

    def small_faces(self, params, quick):
        self.section("Small faces: 12-megapixel class photos, 35 faces each 25 px across (built from the labelled faces)")
        photos = []
        for seed in (1, 2, 3):
            image, truth = class_photo(self.sources, 25, seed=seed, testdata=self.testdata)
            path = jpeg(image, self.scratch / f"class-{seed}.jpg", quality=90)
            photos.append((path, truth))
        if not quick:
            import face_recognition

            path, truth = photos[0]
            pixels = face_recognition.load_image_file(path)
            for upsample in (1, 2):
                started = time.perf_counter()
                boxes = face_recognition.face_locations(pixels, number_of_times_to_upsample=upsample)
                hits, extra = found_truth(truth, boxes)
                self.out(
                    f"  face_recognition.face_locations(upsample={upsample}), whole photo, one core: {hits}/35 found, "
                    f"{extra} false, {time.perf_counter() - started:.1f} s ({self.load()})"
                )
            image = faces.load_image(path)
            for scale in (2.0, 2.5):
                lower = faces.DetectionSettings(**{**params.__dict__, "scale": scale})
                started = time.perf_counter()
                hits, extra = found_truth(truth, [f.box for f in faces.detect_faces(image, lower)])
                self.out(f"  chosen settings but tiles enlarged x{scale:g}: {hits}/35 found, {extra} false, {time.perf_counter() - started:.1f} s")
            plain = faces.DetectionSettings(**{**params.__dict__, "threshold": params.accept})
            started = time.perf_counter()
            hits, extra = found_truth(truth, [f.box for f in faces.detect_faces(image, plain)])
            self.out(f"  chosen settings but HOG's own threshold, no CNN check: {hits}/35 found, {extra} false, {time.perf_counter() - started:.1f} s")
        total_hits = total_extra = 0
        for path, truth in photos:
            image = faces.load_image(path)
            started = time.perf_counter()
            found = faces.detect_faces(image, params)
            elapsed = time.perf_counter() - started
            hits, extra = found_truth(truth, [f.box for f in found])
            total_hits, total_extra = total_hits + hits, total_extra + extra
            self.out(f"  chosen settings, {path.name}: {hits}/35 found, {extra} false, {elapsed:.1f} s on {self.cores} cores ({self.load()})")
        self.out(f"Recall on 25-px faces in 12-megapixel photos: {total_hits}/{35 * len(photos)}, {total_extra} false detections.")
        return photos

    # -- the whole gate against bare face_recognition calls

    def gate_against_bare(self, register, class_photo_entry):
        import face_recognition
        from face_recognition import api

        self.section("Seconds per 12-megapixel photo: the whole gate against bare face_recognition calls")
        path_class = class_photo_entry[0]
        two = open_oriented(self.testdata / "faces" / "posts" / "two_people.jpg").resize((4000, 2348), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (4000, 3000), (200, 200, 200))
        canvas.paste(two, (0, 326))
        path_two = jpeg(canvas, self.scratch / "two_people-12mp.jpg", quality=92)
        params = faces.DetectionSettings.current()
        known = register.encodings

        def bare(path):
            """The same work as the gate, done with face_recognition's own calls and models."""
            timings = {}
            t = time.perf_counter()
            pixels = face_recognition.load_image_file(path)
            image = Image.fromarray(pixels)
            timings["load"] = time.perf_counter() - t
            t = time.perf_counter()
            boxes = []
            for region, scale in faces.plan(image.width, image.height, params):
                left, top, right, bottom = region
                size = (round((right - left) * scale), round((bottom - top) * scale))
                scaled = np.asarray(image.resize(size, Image.Resampling.BILINEAR, box=region))
                rects, scores, _ = api.face_detector.run(scaled, 0, params.threshold)
                for r, score in zip(rects, scores):
                    box = faces.Found(round(top + r.top() / scale), round(left + r.right() / scale),
                                      round(top + r.bottom() / scale), round(left + r.left() / scale), float(score))
                    if score < params.accept:
                        m = max(box.width, box.bottom - box.top) / 2
                        crop = image.crop((round(box.left - m), round(box.top - m), round(box.right + m), round(box.bottom + m)))
                        side = 2 * params.verify_px
                        if not api.cnn_face_detector(np.asarray(crop.resize((side, side), Image.Resampling.BICUBIC)), 0):
                            continue
                    boxes.append(box)
            boxes = faces._merge(boxes, image.width, image.height)
            timings["detect"] = time.perf_counter() - t
            t = time.perf_counter()
            encodings = face_recognition.face_encodings(pixels, [b.box for b in boxes])
            timings["encode"] = time.perf_counter() - t
            t = time.perf_counter()
            for encoding in encodings:
                face_recognition.face_distance(known, encoding)
            timings["distance"] = time.perf_counter() - t
            return timings, len(boxes)

        rows = []
        for path in (path_class, path_two):
            # One core: one detection thread and no worker processes, as the bare calls run.
            with ThreadPoolExecutor(max_workers=1) as one, override_settings(FACE_PROCESSES=0):
                t = time.perf_counter()
                result = faces.check_file(path, "facebook", register, pool=one)
                gate_one = time.perf_counter() - t
            timings, bare_faces = bare(path)
            bare_total = sum(timings.values())
            t = time.perf_counter()
            faces.check_file(path, "facebook", register)
            gate_all = time.perf_counter() - t
            rows.append((gate_one, bare_total))
            self.out(
                f"  {path.name} ({len(result['faces'])} faces; bare found {bare_faces}): gate on one core {gate_one:.1f} s, "
                f"bare calls on one core {bare_total:.1f} s ("
                + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
                + f"), ratio {gate_one / bare_total:.2f}; gate on {self.cores} cores {gate_all:.1f} s ({self.load()})"
            )
        gate = sum(r[0] for r in rows) / len(rows)
        bare_mean = sum(r[1] for r in rows) / len(rows)
        self.out(
            f"Per 12-megapixel photo: the gate {gate:.1f} s, bare face_recognition {bare_mean:.1f} s on one core: "
            f"ratio {gate / bare_mean:.2f} (pipeline overhead {100 * (gate / bare_mean - 1):+.0f}%; target under +10%)."
        )
        self.out(
            "  The gate also checks the file's content and size, applies EXIF orientation, reads the metadata, "
            "and encodes each face from its neighbourhood (face_recognition.face_encodings converts the whole "
            "photo for every face)."
        )

    # -- videos

    def video_tracks(self, register):
        from consent import video

        clip = self.testdata / "video" / "short_hamilton_clip.mp4"
        label = self.labels.get("video", {}).get("video/short_hamilton_clip.mp4", {})
        self.section("Faces in videos: face tracks of the labelled clip, and the same clip scaled to 1080p")
        every_s = 1 / float(video.setting("VIDEO_SAMPLES_PER_SECOND"))
        self.out(
            f"Sampling: {video.setting('VIDEO_SAMPLES_PER_SECOND')} frames a second (every {every_s:.2f} s), so a face on screen "
            f"for half a second is in at least 2 samples; a track survives {video.setting('VIDEO_TRACK_GAP')} samples without "
            f"its face (turned away, hidden); frames are searched at {video.setting('VIDEO_DETECT_MIN_HEIGHT')} px high or more "
            f"(a 360p video is enlarged x2: faces from 40 px); candidates down to a HOG score of "
            f"{video.setting('VIDEO_TRACK_THRESHOLD')} extend a track, a new track needs a score of 0 or the CNN's confirmation."
        )
        hd = self.scratch / "clip-1080p.mp4"
        with av_open(clip) as source, av_open(hd, "w") as target:
            stream = target.add_stream("libx264", rate=source.streams.video[0].average_rate)
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            for frame in source.decode(video=0):
                for packet in stream.encode(frame.reformat(width=1920, height=1080)):
                    target.mux(packet)
            for packet in stream.encode():
                target.mux(packet)
        for path in (clip, hd):
            busy, started = machine_busy_seconds(), time.perf_counter()
            report = video.analyse(path, "youtube", register)
            seconds = time.perf_counter() - started
            cpu = machine_busy_seconds() - busy if busy is not None else None
            self.out(
                f"  {path.name} ({report.info.width}x{report.info.height}, {report.info.seconds:.1f} s at {report.info.fps:.2f} fps): "
                f"{report.samples} samples, {len(report.tracks)} tracks, analysed in {seconds:.1f} s: real-time factor "
                f"{seconds / report.info.seconds:.2f} on {self.cores} cores" + (f" (CPU {cpu:.0f} s)" if cpu is not None else "")
                + f" ({self.load()})"
            )
            for track in report.tracks:
                who = track.match.pupil.legal_forename if track.match.pupil is not None else "nobody"
                self.out(f"      {track.start:5.2f}-{track.end:5.2f} s, {track.best.face.width} px: {track.match.status} ({who}"
                         + (f", {track.match.distance:.3f})" if track.match.distance is not None else ")"))
            people = label.get("people", [])
            found = [p for p in people if any(t.match.pupil is not None and t.match.pupil.legal_forename == p
                                              and t.match.status in (faces.CONSENTED, faces.UNCERTAIN) for t in report.tracks)]
            unknown = sum(1 for t in report.tracks if t.match.status == faces.UNKNOWN)
            self.out(f"    Labelled people found: {len(found)}/{len(people)}; unknown tracks: {unknown} "
                     f"(labels: {label.get('unknown_faces', '?')}).")
            from moderation import video_copy

            started = time.perf_counter()
            video_copy.blurred(path, [[[v.time, *v.face.box] for v in t.views] for t in report.tracks], self.scratch / f"blurred-{path.name}")
            seconds = time.perf_counter() - started
            self.out(f"    Blurring every track (decode, pixelate, H.264 again, sound copied): {seconds:.1f} s, "
                     f"real-time factor {seconds / report.info.seconds:.2f} ({self.load()}).")

    # -- a draft of 30 photos

    def draft(self, register, count, class_photos):
        self.section(f"A {count}-photo draft end to end (check_media's path) on {self.cores} cores")
        everyday = [self.testdata / name for name in self.labels["posts"]] + sorted((self.testdata / "faces" / "enrol").glob("*/*"))
        paths = []
        for i in range(count):
            if i % 5 == 4:  # one photo in five is a class photo
                paths.append(class_photos[(i // 5) % len(class_photos)][0])
                continue
            source = open_oriented(everyday[i % len(everyday)])
            source.thumbnail((4000, 4000))
            scale = 4000 / max(source.size)
            big = source.resize((round(source.width * scale), round(source.height * scale)), Image.Resampling.LANCZOS)
            canvas = Image.new("RGB", (4000, 3000) if big.width >= big.height else (3000, 4000), (128, 128, 128))
            big.thumbnail(canvas.size)
            canvas.paste(big, ((canvas.width - big.width) // 2, (canvas.height - big.height) // 2))
            paths.append(jpeg(canvas, self.scratch / f"draft-{i:02d}.jpg", quality=90))
        busy, wall = machine_busy_seconds(), time.perf_counter()
        report = faces.check_files(paths, "facebook", register=register)
        wall = time.perf_counter() - wall
        found = sum(len(f["faces"]) for f in report["files"])
        usage = ""
        if busy is not None:
            # The whole machine's CPU time: this process's threads and its worker processes.
            cpu = machine_busy_seconds() - busy
            usage = f"; the machine's CPU busy {cpu:.0f} s, {100 * cpu / (wall * self.cores):.0f}% of {self.cores} cores"
        self.out(
            f"{count} photos of 12 megapixels ({count // 5} class photos of 35 small faces, the rest everyday photos), "
            f"{found} faces: {wall:.0f} s, {wall / count:.1f} s a photo{usage} ({self.load()}). Verdict: {report['verdict']}."
        )

    # -- 2,000 pupils

    def large_register(self, register):
        self.section("Matching one face against 2,000 enrolled pupils (two photos each)")
        rng = np.random.default_rng(7)
        real = register.encodings
        pupils = list(register.pupils) + [Pupil(upn=f"C{i:012d}", legal_forename=f"pupil {i}") for i in range(2000 - len(register))]
        # Made-up encodings spread like real ones: each a real encoding moved well away from it.
        made_up = real[rng.integers(0, len(real), size=(len(pupils) - len(register), 2))] + rng.normal(0, 0.06, size=(len(pupils) - len(register), 2, 128))
        encodings = np.vstack([real, made_up.reshape(-1, 128)])
        owners = list(register.owners) + [len(register) + i // 2 for i in range(2 * (len(pupils) - len(register)))]
        box = crypto.MultiFernet([crypto.Fernet(crypto.Fernet.generate_key())])
        tokens = [crypto.encrypt_encoding(e, box) for e in encodings]
        started = time.perf_counter()
        decrypted = np.array([crypto.decrypt_encoding(t, box) for t in tokens])
        decrypt = time.perf_counter() - started
        started = time.perf_counter()
        big = faces.Register(pupils, [True] * len(pupils), decrypted, owners)
        build = time.perf_counter() - started
        image = faces.load_image(self.testdata / "faces" / "posts" / "two_people.jpg")
        found = sorted(faces.detect_faces(image), key=lambda f: f.left)
        encoding = faces.encode(image, found[1].box)  # biden, left to right
        runs = 2000
        started = time.perf_counter()
        for _ in range(runs):
            match = faces.match_encodings([encoding], [found[1].width], big, [found[1].box])[0]
        per_face = (time.perf_counter() - started) / runs
        self.out(
            f"{len(pupils)} pupils, {len(encodings)} encodings: decrypting them {decrypt * 1000:.0f} ms, arranging them "
            f"{build * 1000:.1f} ms (once per check); matching one face {per_face * 1e6:.0f} µs "
            f"(result: {match.status}, {match.pupil.legal_forename}, distance {match.distance:.3f})."
        )
        self.out("  Reading the rows from the database is not included: the register here is built in memory.")
