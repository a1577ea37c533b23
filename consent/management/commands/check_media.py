"""python manage.py check_media --channel facebook|youtube [--json] [--published-copy DIR] FILE...

Runs on files the same face detection, matching against the consent register and metadata
checks as the image-consent gate. With --json it prints exactly one JSON object:

    {"verdict": "pass"|"fail"|"review",
     "files": [{"file": str, "error": str|null,
                "faces": [{"box": [top, right, bottom, left], "status": "consented"|"uncertain"|"no-consent"|"unknown",
                           "upn": str|null, "distance": float|null}],
                "metadata": [str, ...]}]}

pass: every face is a pupil with current written consent for the channel. review: some face is
uncertain (a person must confirm who it is) and none is worse. fail: a face without consent, an
unknown face, or a file that could not be read.

With --published-copy DIR, it also writes into DIR, for each file, the exact file that would be
published if nobody identified anyone by hand: every face that is not `consented` pixelated, no
metadata. It has the input's name, with .jpg for a photo and .mp4 for a video (-2, -3 ... when
two inputs share a name). The JSON is the same with or without it.

Exit status: 0 pass; 1 fail or review; 2 a file could not be read, or a usage error.
"""

import json
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.school.commands import SchoolCommand
from consent import faces
from consent.models import ChannelKind

PASS_EXIT, FAIL_EXIT, UNREADABLE_EXIT = 0, 1, 2


class Command(SchoolCommand):
    help = "Check photos for faces without consent for a channel, and for metadata they carry."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=ChannelKind.values, help="the kind of channel the photos are for")
        parser.add_argument("files", nargs="+", metavar="FILE", help="photos: JPEG, PNG, WebP or HEIC")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print one JSON object instead of sentences")
        parser.add_argument(
            "--published-copy", dest="copy_to", metavar="DIR",
            help="write into DIR each file as it would be published: faces without consent pixelated, no metadata",
        )

    def handle(self, *args, channel, files, as_json, copy_to, **options):
        if copy_to is not None:
            folder = Path(copy_to)
            if folder.exists() and not folder.is_dir():
                self.stderr.write(f"--published-copy {copy_to}: that is a file, not a folder. Nothing was checked.")
                sys.exit(UNREADABLE_EXIT)
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                self.stderr.write(f"--published-copy {copy_to}: the folder cannot be made ({error.strerror or error}). Nothing was checked.")
                sys.exit(UNREADABLE_EXIT)
        try:
            report = faces.check_files(files, channel, copy_to=copy_to)
        except ImproperlyConfigured as error:  # no key, or a key that cannot read the enrolled faces
            message = f"The register could not be read, so nothing was checked: {error}"
            report = {"verdict": "fail", "files": [{"file": f, "error": message, "faces": [], "metadata": []} for f in files]}
            self._print(report, as_json, copy_to)
            self.stderr.write(message)
            sys.exit(UNREADABLE_EXIT)
        self._print(report, as_json, copy_to)
        if any(f["error"] for f in report["files"]):
            sys.exit(UNREADABLE_EXIT)
        if report["verdict"] != "pass":
            sys.exit(FAIL_EXIT)

    def _print(self, report, as_json, copy_to=None):
        if as_json:
            self.stdout.write(_dumps(report))
            return
        for f in report["files"]:
            if f["error"]:
                self.stdout.write(f"{f['file']}: not checked: {f['error']}")
                continue
            count = len(f["faces"])
            if copy_to is not None:
                self.stdout.write(f"{f['file']}: published copy written to {copy_to}")
            self.stdout.write(f"{f['file']}: {count} face{'s' if count != 1 else ''}" + (f"; carries {', '.join(f['metadata'])}" if f["metadata"] else "; no metadata"))
            for number, face in enumerate(f["faces"], start=1):
                who = f" {face['upn']}" if face["upn"] else ""
                distance = f", distance {face['distance']:.3f}" if face["distance"] is not None else ""
                self.stdout.write(f"  face {number} at {face['box']}: {face['status']}{who}{distance}")
        self.stdout.write(f"Verdict: {report['verdict']}")


def _dumps(report) -> str:
    return json.dumps(report, ensure_ascii=False)
