"""python manage.py check_media --channel facebook|youtube FILE... [--json]

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

Exit status: 0 pass; 1 fail or review; 2 a file could not be read, or a usage error.
"""

import json
import sys

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand

from consent import faces
from consent.models import ChannelKind

PASS_EXIT, FAIL_EXIT, UNREADABLE_EXIT = 0, 1, 2


class Command(BaseCommand):
    help = "Check photos for faces without consent for a channel, and for metadata they carry."

    def add_arguments(self, parser):
        parser.add_argument("--channel", required=True, choices=ChannelKind.values, help="the kind of channel the photos are for")
        parser.add_argument("files", nargs="+", metavar="FILE", help="photos: JPEG, PNG, WebP or HEIC")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print one JSON object instead of sentences")

    def handle(self, *args, channel, files, as_json, **options):
        try:
            report = faces.check_files(files, channel)
        except ImproperlyConfigured as error:  # no key, or a key that cannot read the enrolled faces
            message = f"The register could not be read, so nothing was checked: {error}"
            report = {"verdict": "fail", "files": [{"file": f, "error": message, "faces": [], "metadata": []} for f in files]}
            self._print(report, as_json)
            self.stderr.write(message)
            sys.exit(UNREADABLE_EXIT)
        self._print(report, as_json)
        if any(f["error"] for f in report["files"]):
            sys.exit(UNREADABLE_EXIT)
        if report["verdict"] != "pass":
            sys.exit(FAIL_EXIT)

    def _print(self, report, as_json):
        if as_json:
            self.stdout.write(_dumps(report))
            return
        for f in report["files"]:
            if f["error"]:
                self.stdout.write(f"{f['file']}: not checked: {f['error']}")
                continue
            count = len(f["faces"])
            self.stdout.write(f"{f['file']}: {count} face{'s' if count != 1 else ''}" + (f"; carries {', '.join(f['metadata'])}" if f["metadata"] else "; no metadata"))
            for number, face in enumerate(f["faces"], start=1):
                who = f" {face['upn']}" if face["upn"] else ""
                distance = f", distance {face['distance']:.3f}" if face["distance"] is not None else ""
                self.stdout.write(f"  face {number} at {face['box']}: {face['status']}{who}{distance}")
        self.stdout.write(f"Verdict: {report['verdict']}")


def _dumps(report) -> str:
    return json.dumps(report, ensure_ascii=False)
