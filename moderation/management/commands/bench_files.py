"""python manage.py bench_files: what keeping the school's files in a bucket costs, beside the local disk.

For a phone photo and a video, through the same code the product uses (config/school/files.py):
storing an upload, a worker on another machine reading it (the first time, fetched; again, from
its working folder), the news page serving it, and deleting it. The bucket is moto's S3 server on
127.0.0.1 (no network in between: what is measured is the product's own path, boto3's included);
with FILES_S3_BUCKET set (and its credentials), the configured bucket is measured too, which is
what a trust should run against its own storage before moving.
"""

import io
import logging
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from django.conf import settings
from django.core.management.base import BaseCommand
from django.test import override_settings
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from PIL import Image

from config.school import files

ROUNDS = 5


def sample_files() -> dict[str, bytes]:
    photo = io.BytesIO()
    Image.effect_noise((4000, 3000), 20).convert("RGB").save(photo, "JPEG", quality=85)
    return {"12 MP photo": photo.getvalue(), "50 MB video": os.urandom(50 * 1024 * 1024)}


class Command(BaseCommand):
    help = "Measure storing, fetching, serving and deleting files on the local disk and in a bucket."

    def handle(self, *args, **options):
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the S3 server's line for each request
        samples = sample_files()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        credentials = {"access_key": "bench", "secret_key": "bench"}
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                     aws_secret_access_key="bench").create_bucket(Bucket=bucket)
        places = [("local disk (the default)", None),
                  ("bucket: S3 server on 127.0.0.1", {area: files.storage_settings(None, area, bucket=bucket, endpoint_url=endpoint,
                                                                           region="us-east-1", **credentials) for area in files.AREAS})]
        if settings.FILES_S3_BUCKET:
            places.append((f"bucket: {settings.FILES_S3_BUCKET} (FILES_S3_BUCKET)", {area: settings.STORAGES[area] for area in files.AREAS}))
        self.stdout.write(f"Median of {ROUNDS} rounds, in milliseconds (MB/s in brackets)")
        self.stdout.write(f"{'where':40} {'file':12} {'store':>14} {'first read':>14} {'read again':>12} {'serve':>14} {'delete':>8}")
        try:
            for where, storages in places:
                for what, data in samples.items():
                    self.stdout.write(f"{where:40} {what:12} " + self.measure(storages, data))
        finally:
            server.stop()
        self.stdout.write(
            "store: an upload kept (the web server); first read: a worker on another machine fetches it into its working\n"
            "folder; read again: that worker reads it once more (no fetch); serve: the news page streams it from a\n"
            "machine that had not fetched it; delete: the file removed. On the local disk the first read costs nothing:\n"
            "the machines share one disk, which is why one machine is the default and a bucket the option for several."
        )

    def measure(self, storages, data: bytes) -> str:
        timings = {step: [] for step in ("store", "first", "again", "serve", "delete")}
        for _ in range(ROUNDS):
            with tempfile.TemporaryDirectory(prefix="bench-files-") as folder:
                folder = Path(folder)
                kept = storages or files.on_local_disk_under(folder)
                with override_settings(STORAGES={**settings.STORAGES, **kept}, WORK_DIR=folder / "web"):
                    name = uuid.uuid4().hex
                    started = time.perf_counter()
                    files.store(files.UPLOADS, name, io.BytesIO(data))
                    timings["store"].append(time.perf_counter() - started)
                with override_settings(STORAGES={**settings.STORAGES, **kept}, WORK_DIR=folder / "worker"):
                    started = time.perf_counter()
                    files.here(files.UPLOADS, name).read_bytes()
                    timings["first"].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    files.here(files.UPLOADS, name).read_bytes()
                    timings["again"].append(time.perf_counter() - started)
                with override_settings(STORAGES={**settings.STORAGES, **kept}, WORK_DIR=folder / "web-2"):
                    started = time.perf_counter()
                    with open(files.here(files.UPLOADS, name), "rb") as handle:
                        shutil.copyfileobj(handle, io.BytesIO())
                    timings["serve"].append(time.perf_counter() - started)
                    started = time.perf_counter()
                    files.remove(files.UPLOADS, name)
                    timings["delete"].append(time.perf_counter() - started)
        megabytes = len(data) / 2**20

        def cell(step, width, rate=True):
            seconds = statistics.median(timings[step])
            text = f"{seconds * 1000:.0f}" + (f" ({megabytes / seconds:.0f})" if rate and seconds > 0 else "")
            return f"{text:>{width}}"

        return " ".join([cell("store", 14), cell("first", 14), cell("again", 12), cell("serve", 14), cell("delete", 8, rate=False)])
