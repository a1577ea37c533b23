"""The same tasks on a Redis queue (RQ): worker processes share the work, and a worker killed in the
middle of an analysis loses nothing. Real processes, on the test's PostgreSQL database and the
tests' own Redis database (14 on 127.0.0.1:6379, emptied before and after)."""

import io
import signal
from collections import Counter

import django_rq
import pytest
import redis
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django_tasks_rq import Job as RedisJob
from PIL import Image
from rq.registry import FinishedJobRegistry

from moderation.drafts import analysis
from moderation.drafts import services as drafting
from moderation.models import MediaFile
from moderation.publishing import scheduling
from moderation.upkeep import health, tasks, worker
from tests import processes
from tests.conftest import link_draft

pytestmark = pytest.mark.django_db(transaction=True)

REDIS = "redis://127.0.0.1:6379/14"
ON_REDIS = {"TASKS_BACKEND": "django_tasks_rq.RQBackend", "REDIS_URL": REDIS}


@pytest.fixture
def redis_queue(settings, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share the test database only on PostgreSQL")
    server = redis.Redis.from_url(REDIS)
    try:
        server.ping()
    except redis.RedisError:
        pytest.skip("Redis does not answer on 127.0.0.1:6379")
    server.flushdb()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": tasks.QUEUES}}
    monkeypatch.setattr(django_rq.settings, "QUEUES", tasks.redis_queues(REDIS))
    settings.MEDIA_ANALYSIS = "background"
    yield
    server.flushdb()


def photo(size, noise=False) -> bytes:
    image = Image.effect_noise(size, 60).convert("RGB") if noise else Image.new("RGB", size, "green")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def test_an_upload_on_the_redis_queue_is_analysed_by_a_worker(redis_queue, office, facebook, tmp_path, settings):
    media = drafting.add_media(link_draft(office, facebook), office, SimpleUploadedFile("field.jpg", photo((80, 60))),
                               source="Mrs Patel", rights="school")
    assert tasks.waiting(analysis.analyse) == {media.pk}  # handed to Redis once the upload committed
    assert tasks.run_queued(tasks.SLOW) == 1
    media.refresh_from_db()
    assert media.analysis == "done"


def test_workers_on_the_redis_queue_analyse_every_upload_once_and_a_killed_one_loses_nothing(
        redis_queue, office, facebook, tmp_path, settings):
    draft = link_draft(office, facebook)
    # A large photo first, so that a worker is still on it when it is killed; then 19 small ones.
    uploads = [drafting.add_media(draft, office, SimpleUploadedFile("hall.jpg", photo((4000, 3000), noise=True)),
                                  source="Mrs Patel", rights="school")]
    uploads += [drafting.add_media(draft, office, SimpleUploadedFile(f"field-{n}.jpg", photo((160, 120))),
                                   source="Mrs Patel", rights="school") for n in range(19)]
    workers = [processes.start(tmp_path, "run_worker", **ON_REDIS) for _ in range(2)]
    big = uploads[0].pk
    try:
        processes.wait_for(lambda: MediaFile.objects.get(pk=big).analysis == "running", "a worker starts on the large photo", tmp_path)
        holder = MediaFile.objects.get(pk=big).analysis_worker
        [killed] = [w for w in workers if holder.endswith(f":{w.pid}")]
        killed.kill()  # killed, not stopped: its task is left running in Redis, its file running here
        killed.wait()
        assert MediaFile.objects.get(pk=big).analysis == "running"
        # A worker starting on this machine finds the file left by a process that is gone.
        workers.append(processes.start(tmp_path, "run_worker", **ON_REDIS))
        processes.wait_for(lambda: not MediaFile.objects.exclude(analysis__in=("done", "failed")).exists(),
                           "every upload is analysed", tmp_path)
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=60)
    for media in MediaFile.objects.all():
        assert media.analysis == "done", (media.original_name, media.analysis_error, processes.logs(tmp_path))
    # Each file analysed to the end exactly once: the tasks that found it already taken returned False.
    [queue] = tasks.queues_in_redis(["analysis"])
    finished = RedisJob.fetch_many(FinishedJobRegistry(queue=queue).get_job_ids(), connection=queue.connection)
    analysed = Counter(job.args[0] for job in finished if job is not None and job.return_value() is True)
    assert analysed == Counter({media.pk: 1 for media in uploads})
    assert not MediaFile.objects.get(pk=big).analysis_worker.endswith(f":{killed.pid}")
    assert "The worker stopped." in processes.logs(tmp_path)


def test_a_worker_on_the_redis_queue_stopped_with_sigterm_puts_the_file_in_hand_back_in_the_queue(
        redis_queue, office, facebook, tmp_path, settings):
    media = drafting.add_media(link_draft(office, facebook), office, SimpleUploadedFile("hall.jpg", photo((4000, 3000), noise=True)),
                               source="Mrs Patel", rights="school")
    worker = processes.start(tmp_path, "run_worker", **ON_REDIS)
    try:
        processes.wait_for(lambda: MediaFile.objects.get(pk=media.pk).analysis == "running", "the worker starts on the photo", tmp_path)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=10) == 0, processes.logs(tmp_path)
    finally:
        if worker.poll() is None:
            worker.kill()
    media.refresh_from_db()
    assert media.analysis == "queued", processes.logs(tmp_path)
    assert tasks.waiting(analysis.analyse) == {media.pk}  # in Redis, for the next worker
    assert "The worker stopped." in processes.logs(tmp_path)


def test_the_health_page_counts_the_tasks_waiting_in_redis(redis_queue):
    scheduling.publish_at_its_time.enqueue(1)
    waiting = tasks.backlog()
    assert waiting["publishing"][0] == 1 and 0 <= waiting["publishing"][1] < 60


def test_the_clock_on_redis_does_not_enqueue_a_round_again_while_it_waits(redis_queue):
    enqueue = worker.every_time(worker.reviews_round, is_the_clock=lambda: True)
    enqueue()
    enqueue()  # it reads the first task's state through Redis
    [queue] = tasks.queues_in_redis(["rounds"])
    assert queue.count == 1


def test_the_health_page_counts_the_uploads_waiting_for_their_turn_in_the_database(redis_queue, office, facebook):
    draft = link_draft(office, facebook)
    for n in range(5):
        drafting.add_media(draft, office, SimpleUploadedFile(f"field-{n}.jpg", photo((80, 60))), source="Mrs Patel", rights="school")
    assert len(tasks.waiting(analysis.analyse)) == 2  # Redis holds a short window, fed in turn
    assert health.checks()["tasks"]["waiting"]["analysis"]["count"] == 5
