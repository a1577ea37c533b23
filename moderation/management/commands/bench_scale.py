"""python manage.py bench_scale [--schools N] [--copies N]: uploads analysed by 1, 2 and 4 worker
processes, with the tasks waiting in the database (the default) and in Redis (many machines).

It needs PostgreSQL (DATABASE_URL, or 127.0.0.1:5432): the worker processes share its throwaway
test database. The Redis rows need Redis at BENCH_REDIS_URL (default: database 13 on
127.0.0.1:6379, which it empties). The uploads are the shared test photos (320×240 to
1548×1024) and 12-megapixel copies of one of them, as a sports day brings. Each run starts its
workers, waits until they are ready, commits the uploads at once and times until every upload is
analysed. The big upload is one school's sports day; each of the other schools uploads one photo
just after it, and the longest any of them waits is timed: with fair turns between schools
(tasks.in_turn on the database queue, the queue fed in turn on Redis: tasks.feed) it waits for
about one photo, first in, first out (the previous way, measured beside it with one worker) for
the whole upload. `--schools 50 --copies 45` is a trust's sports day: 50 schools, about 500
photos (6 to 7 minutes a row here); `--queue database` or `--queue redis` runs one queue's rows only.
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

from config.school import files as kept_files
from config.school import roles
from config.school.commands import ThrowawaySchoolCommand
from config.school.models import School
from config.school.tenancy import in_school, scopes_disabled
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
        parser.add_argument("--schools", type=int, default=3, help="schools on the installation: one big upload, one photo each from the others")
        parser.add_argument("--queue", choices=("both", "database", "redis"), default="both",
                            help="which queue's rows to run (default: both)")

    def handle(self, *args, copies, schools, queue, **options):
        self.queue = queue
        if connection.vendor != "postgresql":
            raise CommandError("bench_scale needs PostgreSQL (DATABASE_URL): its worker processes share the database.")
        self.redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
        state = setup_databases(verbosity=0, interactive=False)
        try:
            with tempfile.TemporaryDirectory(prefix="scale-bench-") as folder:
                self.folder = Path(folder)
                with override_settings(STORAGES={**settings.STORAGES, **kept_files.on_local_disk_under(self.folder)},
                                       MEDIA_ANALYSIS="background"):
                    with self.in_the_school():
                        self.run(copies, schools)
        finally:
            teardown_databases(state, verbosity=0)

    def run(self, copies, schools):
        files = self.files(copies)
        sizes = sorted({Image.open(io.BytesIO(data)).size for _, data in files})
        self.stdout.write(f"{len(files)} uploads ({sizes[0][0]}×{sizes[0][1]} to {sizes[-1][0]}×{sizes[-1][1]}) by one school, "
                          f"then one photo from each of {schools - 1} other schools, on {os.cpu_count()} cores, "
                          "with the workers started and ready.")
        self.schools = [self.staff_and_channel(self.school)] + [
            self.staff_and_channel(School.objects.create(name=f"Bench school {n}", slug=f"bench-{n}")) for n in range(1, schools)]
        backends = []
        if self.queue != "redis":
            backends += [("database queue, first in first out (before)", {}, None, False), ("database queue (default)", {}, None, True)]
        if self.queue != "database":
            try:
                redis.Redis.from_url(self.redis_url).ping()
                on_redis = {"TASKS_BACKEND": "django_tasks_rq.RQBackend", "REDIS_URL": self.redis_url}
                backends += [("Redis queue (RQ), first in first out (before)", on_redis, self.redis_url, False),
                             ("Redis queue (RQ), fed in turn", on_redis, self.redis_url, True)]
            except redis.RedisError:
                self.stdout.write(f"Redis does not answer at {self.redis_url}: the Redis rows are left out.")
        self.stdout.write("\n| queue | workers | all analysed | photos a minute | the longest a one-photo school waited |\n|---|---|---|---|---|")
        for name, env, redis_url, fair in backends:
            for count in WORKERS if fair else WORKERS[:1]:
                with override_settings(TASKS_FAIR_TURNS=fair):
                    elapsed, single = self.one_run(files, count, {**env, "TASKS_FAIR_TURNS": "1" if fair else "0"}, redis_url)
                photos = len(files) + len(self.schools) - 1
                self.stdout.write(f"| {name} | {count} | {elapsed:.1f} s | {photos / elapsed * 60:.0f} | {single:.1f} s |")
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

    def staff_and_channel(self, school):
        User = get_user_model()
        head = User.objects.create_user(f"scale-head-{school.slug}", email="head@example.org")
        roles.give_role(head, school, roles.HEADTEACHER)
        office = User.objects.create_user(f"scale-office-{school.slug}")
        roles.give_role(office, school, roles.OFFICE_STAFF)
        with in_school(school):
            for user in (head, office):
                accounts.accept_aup(user)
            return school, office, complete_channel(head, authors=[office])

    def one_run(self, files, count, env, redis_url) -> tuple[float, float]:
        """The workers are started and ready first; then the first school's uploads are committed at
        once, and one photo from each other school just after them. Returns how long until every
        upload was analysed, and the longest a one-photo school waited."""
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
                [(big_school, office, channel), *others] = self.schools
                with transaction.atomic():
                    draft = self.draft(office, channel, "sports-day")
                    for name, data in files:
                        drafting.add_media(draft, office, SimpleUploadedFile(name, data), source="Mrs Patel", rights="school")
                started = time.perf_counter()
                singles = {}  # the one photo of each other school: when it was uploaded
                [_, data] = files[0]
                for school, school_office, school_channel in others:
                    with in_school(school):
                        alone = self.draft(school_office, school_channel, "one-photo")
                        single = drafting.add_media(alone, school_office, SimpleUploadedFile("assembly.jpg", data), source="Mrs Patel", rights="school")
                    singles[single.pk] = time.perf_counter()
            waited = {}
            with scopes_disabled():  # every school's files (on PostgreSQL the database's wall opens too)
                everywhere = MediaFile.objects
                mine = [draft.pk] + list(everywhere.filter(pk__in=singles).values_list("draft", flat=True))
                while everywhere.filter(draft__in=mine).exclude(analysis__in=("done", "failed")).exists():
                    if any(w.poll() is not None for w in workers):
                        raise CommandError(f"A worker stopped: see {self.folder}")
                    for pk in everywhere.filter(pk__in=set(singles) - set(waited), analysis="done").values_list("pk", flat=True):
                        waited[pk] = time.perf_counter() - singles[pk]
                    time.sleep(0.1)
            elapsed = time.perf_counter() - started
            for pk in set(singles) - set(waited):
                waited[pk] = time.perf_counter() - singles[pk]
            single_waited = max(waited.values(), default=0.0)
        finally:
            if original is not None:
                django_rq.settings.QUEUES = original
            for w in workers:
                w.terminate()
            for w in workers:
                w.wait(timeout=60)
        with scopes_disabled():
            failed = MediaFile.objects.filter(draft__in=mine, analysis="failed").count()
        if failed:
            raise CommandError(f"{failed} upload(s) could not be analysed")
        return elapsed, single_waited

    def draft(self, office, channel, slug):
        return drafting.create_draft(office, channel, link=f"https://example.org/{slug}", objective="community",
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
