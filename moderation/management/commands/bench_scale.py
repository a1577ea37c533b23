"""python manage.py bench_scale: uploads analysed by 1, 2 and 4 worker processes, with the tasks
waiting in the database (the default) and in Redis (many machines).

It needs PostgreSQL (DATABASE_URL, or 127.0.0.1:5432): the worker processes share its throwaway
test database. The Redis rows need Redis at BENCH_REDIS_URL (default: database 13 on
127.0.0.1:6379, which it empties). The uploads are the shared test photos (320×240 to
1548×1024) and 12-megapixel copies of one of them, as a sports day brings. Each run starts its
workers, waits until they are ready, commits the uploads at once and times until every upload is
analysed; and times one photo uploaded just after them for another draft, which waits behind them
(the first in, first out order that per-school fairness will change).
"""

import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django_rq
import redis
from cryptography.fernet import Fernet
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import override_settings
from django.test.utils import setup_databases, teardown_databases
from PIL import Image

from config.school import roles
from config.school.commands import ThrowawaySchoolCommand
from moderation.accounts import services as accounts
from moderation.demo.sample import complete_channel
from moderation.drafts import services as drafting
from moderation.models import MediaFile
from moderation.upkeep import tasks

SHARED_PHOTOS = Path(settings.BASE_DIR).parent / "shared" / "testdata" / "faces" / "posts"
WORKERS = (1, 2, 4)


class Command(ThrowawaySchoolCommand):
    help = "Uploads analysed by 1, 2 and 4 worker processes, on the database queue and on the Redis queue."

    def add_arguments(self, parser):
        parser.add_argument("--copies", type=int, default=3, help="how many times each shared photo is uploaded (default 3)")

    def handle(self, *args, copies, **options):
        if connection.vendor != "postgresql":
            raise CommandError("bench_scale needs PostgreSQL (DATABASE_URL): its worker processes share the database.")
        self.redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
        state = setup_databases(verbosity=0, interactive=False)
        try:
            with tempfile.TemporaryDirectory(prefix="scale-bench-") as folder:
                self.folder = Path(folder)
                with override_settings(UPLOAD_DIR=self.folder / "uploads", MEDIA_ANALYSIS="background"):
                    with self.in_the_school():
                        self.run(copies)
        finally:
            teardown_databases(state, verbosity=0)

    def run(self, copies):
        files = self.files(copies)
        sizes = sorted({Image.open(io.BytesIO(data)).size for _, data in files})
        self.stdout.write(f"{len(files)} uploads ({sizes[0][0]}×{sizes[0][1]} to {sizes[-1][0]}×{sizes[-1][1]}) on "
                          f"{os.cpu_count()} cores, with the workers started and ready.")
        self.office, self.channel = self.school()
        backends = [("database queue (default)", {}, None)]
        try:
            redis.Redis.from_url(self.redis_url).ping()
            backends.append(("Redis queue (RQ)", {"TASKS_BACKEND": "django_tasks_rq.RQBackend", "REDIS_URL": self.redis_url}, self.redis_url))
        except redis.RedisError:
            self.stdout.write(f"Redis does not answer at {self.redis_url}: the Redis rows are left out.")
        self.stdout.write("\n| queue | workers | all analysed | photos a minute | one photo uploaded just after them waited |\n|---|---|---|---|---|")
        for name, env, redis_url in backends:
            for count in WORKERS:
                elapsed, single = self.one_run(files, count, env, redis_url)
                self.stdout.write(f"| {name} | {count} | {elapsed:.1f} s | {(len(files) + 1) / elapsed * 60:.0f} | {single:.1f} s |")
                self.stdout.flush()

    def files(self, copies):
        shared = sorted(SHARED_PHOTOS.glob("*.jpg"))
        if not shared:
            raise CommandError(f"No shared test photos in {SHARED_PHOTOS}.")
        files = [(path.name, path.read_bytes()) for path in shared] * copies
        big = Image.open(shared[0]).convert("RGB").resize((4000, 3000))
        buffer = io.BytesIO()
        big.save(buffer, "JPEG", quality=90)
        return files + [(f"sports-day-{n}.jpg", buffer.getvalue()) for n in range(copies * 2)]

    def school(self):
        User = get_user_model()
        head = User.objects.create_user("scale-head", email="head@example.org")
        roles.give_role(head, self.school, roles.HEADTEACHER)
        office = User.objects.create_user("scale-office")
        roles.give_role(office, self.school, roles.OFFICE_STAFF)
        for user in (head, office):
            accounts.accept_aup(user)
        return office, complete_channel(head, authors=[office])

    def one_run(self, files, count, env, redis_url) -> tuple[float, float]:
        """The workers are started and ready first; then the uploads are committed at once, and one
        more photo just after them, for another draft (a school with one photo). Returns how long
        until every upload was analysed, and how long the one photo waited."""
        if redis_url:
            redis.Redis.from_url(redis_url).flushdb()
            queues = tasks.redis_queues(redis_url)
            backend = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": tasks.QUEUES}}
            original, django_rq.settings.QUEUES = django_rq.settings.QUEUES, queues
        else:
            backend, original = settings.TASKS, None
        logs_before = {path: path.stat().st_size for path in self.folder.glob("worker-*.log")}
        workers = [self.worker(n, env) for n in range(count)]
        try:
            self.wait_until_ready(count, logs_before)
            with override_settings(TASKS=backend):
                with transaction.atomic():
                    draft = self.draft("sports-day")
                    for name, data in files:
                        drafting.add_media(draft, self.office, SimpleUploadedFile(name, data), source="Mrs Patel", rights="school")
                started = time.perf_counter()
                alone = self.draft("one-photo")
                [_, data] = files[0]
                single = drafting.add_media(alone, self.office, SimpleUploadedFile("assembly.jpg", data), source="Mrs Patel", rights="school")
                single_at = time.perf_counter()
            single_waited = None
            while MediaFile.objects.filter(draft__in=(draft, alone)).exclude(analysis__in=("done", "failed")).exists():
                if any(w.poll() is not None for w in workers):
                    raise CommandError(f"A worker stopped: see {self.folder}")
                if single_waited is None and MediaFile.objects.filter(pk=single.pk, analysis="done").exists():
                    single_waited = time.perf_counter() - single_at
                time.sleep(0.1)
            elapsed = time.perf_counter() - started
            if single_waited is None:
                single_waited = time.perf_counter() - single_at
        finally:
            if original is not None:
                django_rq.settings.QUEUES = original
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)
        failed = MediaFile.objects.filter(draft__in=(draft, alone), analysis="failed").count()
        if failed:
            raise CommandError(f"{failed} upload(s) could not be analysed")
        return elapsed, single_waited

    def draft(self, slug):
        return drafting.create_draft(self.office, self.channel, link=f"https://example.org/{slug}", objective="community",
                                     intended_outcome="Families see the day.")

    def wait_until_ready(self, count, logs_before):
        for _ in range(1200):
            ready = [path for path in self.folder.glob("worker-*.log")
                     if "The worker is running" in path.read_text()[logs_before.get(path, 0):]]
            if len(ready) >= count:
                return
            time.sleep(0.1)
        raise CommandError(f"The workers did not start: see {self.folder}")

    def worker(self, n, env) -> subprocess.Popen:
        db = connection.settings_dict
        log = open(self.folder / f"worker-{n}.log", "a")
        return subprocess.Popen(
            [sys.executable, "manage.py", "run_worker"], cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(self.folder),
                 "FACE_ENCRYPTION_KEY": getattr(settings, "FACE_KEY", "") or Fernet.generate_key().decode(),
                 "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}",
                 "COMMENT_CHECK_MINUTES": "600", **env},
        )
