"""Background work as tasks (Django's Tasks API, on its database backend): enqueued with the state
it acts on, run by whichever worker claims it, done once however often it runs, and never lost
when a worker is killed."""

import io
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus, task_backends
from django_tasks.backends.dummy import DummyBackend
from django_tasks_db.models import DBTaskResult
from PIL import Image

from moderation.approval import face_review
from moderation.drafts import analysis
from moderation.drafts import services as drafting
from moderation.models import MediaFile
from moderation.upkeep import stopping, tasks, worker
from tests.conftest import link_draft

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def in_the_background(settings):
    settings.MEDIA_ANALYSIS = "background"


def upload(office, facebook):
    buffer = io.BytesIO()
    Image.new("RGB", (80, 60), "green").save(buffer, "PNG")
    return drafting.add_media(link_draft(office, facebook), office, SimpleUploadedFile("field.png", buffer.getvalue()),
                              source="Mrs Patel", rights="school", alt_text="A field")


def analysis_tasks(status=None):
    found = DBTaskResult.objects.filter(task_path=analysis.analyse.module_path)
    return found.filter(status=status) if status else found


def a_dead_worker() -> str:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()  # its pid is free
    return f"{socket.gethostname()}:{ended.pid}"


def test_an_upload_enqueues_its_analysis_and_a_worker_runs_it(office, facebook):
    media = upload(office, facebook)
    [waiting] = analysis_tasks(TaskResultStatus.READY)
    assert waiting.args_kwargs["args"] == [media.pk] and waiting.queue_name == "analysis"
    assert tasks.run_queued(tasks.SLOW) == 1
    media.refresh_from_db()
    assert media.analysis == "done" and media.faces_found_at is not None
    waiting.refresh_from_db()
    assert waiting.status == TaskResultStatus.SUCCESSFUL and waiting.return_value is True


def test_an_upload_that_is_rolled_back_leaves_no_task(office, facebook):
    with pytest.raises(RuntimeError), transaction.atomic():
        upload(office, facebook)
        raise RuntimeError("the request failed after the upload")
    assert not analysis_tasks().exists() and not MediaFile.objects.exists()


def test_the_same_analysis_enqueued_twice_is_done_once(office, facebook):
    media = upload(office, facebook)
    analysis.analyse.enqueue(media.pk)  # two workers' restarts, say
    assert tasks.run_queued(tasks.SLOW) == 1  # the second finds the file no longer queued
    assert sorted(analysis_tasks().values_list("return_value", flat=True)) == [False, True]


def test_a_task_left_running_by_a_killed_worker_is_closed_and_its_file_analysed_again(office, facebook):
    media = upload(office, facebook)
    dead = a_dead_worker()
    [claimed] = analysis_tasks()
    claimed.claim(dead)  # the killed worker had claimed the task and started on the file
    MediaFile.objects.filter(pk=media.pk).update(analysis="running", analysis_worker=dead)

    assert tasks.close_abandoned() == 1  # what a starting worker does first
    claimed.refresh_from_db()
    assert claimed.status == TaskResultStatus.FAILED and "stopped while running this task" in claimed.traceback
    assert analysis.requeue_abandoned() == 1  # the file goes back to the queue, with a new task
    assert tasks.run_queued(tasks.SLOW) == 1
    media.refresh_from_db()
    assert media.analysis == "done"


def test_a_task_running_in_a_live_worker_is_left_alone(office, facebook):
    upload(office, facebook)
    [claimed] = analysis_tasks()
    claimed.claim(tasks.worker_name())  # this very process
    assert tasks.close_abandoned() == 0
    claimed.refresh_from_db()
    assert claimed.status == TaskResultStatus.RUNNING


def test_a_file_queued_without_a_task_gets_one_when_a_worker_starts(office, facebook):
    media = upload(office, facebook)
    analysis_tasks().delete()  # queued by a version without tasks, say
    assert tasks.run_queued(tasks.SLOW) == 0
    analysis.requeue_abandoned()
    assert tasks.waiting(analysis.analyse) == {media.pk}
    assert tasks.run_queued(tasks.SLOW) == 1


def test_a_worker_asked_to_stop_puts_the_file_back_with_a_new_task(office, facebook, monkeypatch):
    media = upload(office, facebook)

    def stopped_half_way(media, progress):
        stopping.requested.set()  # SIGTERM arrives while the faces are being found
        progress(0.5)

    monkeypatch.setattr(face_review, "find_faces", stopped_half_way)
    try:
        tasks.run_queued(tasks.SLOW, limit=1)
    finally:
        stopping.requested.clear()
    media.refresh_from_db()
    assert media.analysis == "queued"
    assert tasks.waiting(analysis.analyse) == {media.pk}  # the next worker has a task for it


def test_a_round_still_waiting_to_run_is_not_enqueued_again():
    enqueue = worker.every_time(worker.reviews_round, is_the_clock=lambda: True)
    enqueue()
    enqueue()  # the clock ticks again before a worker ran the first
    rounds = DBTaskResult.objects.filter(task_path=worker.reviews_round.module_path)
    assert rounds.count() == 1
    tasks.run_queued(tasks.QUICK)
    enqueue()
    assert rounds.count() == 2 and rounds.filter(status=TaskResultStatus.READY).count() == 1


def test_the_slow_work_and_the_quick_work_have_their_own_queues(office, facebook):
    upload(office, facebook)
    worker.every_time(worker.publishing_round, is_the_clock=lambda: True)()
    assert tasks.run_queued(tasks.QUICK) == 0  # the publishing round ran (nothing was due)...
    assert analysis_tasks(TaskResultStatus.READY).count() == 1  # ...and left the analysis to the slow loop
    assert DBTaskResult.objects.filter(task_path=worker.publishing_round.module_path, status=TaskResultStatus.SUCCESSFUL).count() == 1


def test_the_records_of_tasks_that_ended_a_week_ago_are_deleted_and_newer_ones_kept(office, facebook, settings):
    upload(office, facebook)
    tasks.run_queued(tasks.SLOW)
    upload(office, facebook)  # still waiting: never deleted
    assert tasks.prune() == 0
    assert tasks.prune(now=timezone.now() + timedelta(days=settings.TASK_RECORDS_DAYS, minutes=1)) == 1
    assert analysis_tasks(TaskResultStatus.READY).count() == 1 and analysis_tasks().count() == 1


def test_a_queue_outside_the_database_is_handed_the_task_only_once_the_upload_is_committed(
        office, facebook, settings, django_capture_on_commit_callbacks):
    # A Redis queue, say, whose worker could otherwise look for the file before it exists.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend", "QUEUES": tasks.QUEUES}}
    backend = task_backends["default"]
    with django_capture_on_commit_callbacks(execute=False) as waiting_for_commit, transaction.atomic():
        media = upload(office, facebook)
    assert backend.results == [] and len(waiting_for_commit) == 1
    waiting_for_commit[0]()  # the commit
    [handed] = backend.results
    assert handed.task.module_path == analysis.analyse.module_path and handed.args == [media.pk]


def test_the_same_tasks_run_unchanged_on_another_backend(office, facebook, settings, django_capture_on_commit_callbacks):
    # Django's immediate backend runs a task as it is enqueued: no worker, no table of ours.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend", "QUEUES": tasks.QUEUES}}
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        media = upload(office, facebook)
    media.refresh_from_db()
    assert media.analysis == "done" and media.faces_found_at is not None
    result = worker.reviews_round.enqueue()
    assert result.status == TaskResultStatus.SUCCESSFUL and isinstance(result.return_value, int)  # reminders sent
    assert not DBTaskResult.objects.exists()


class QueueDown(DummyBackend):
    """A queue outside the database that does not answer (Redis down, say)."""

    def enqueue(self, task, args, kwargs):
        raise ConnectionError("Connection refused")


def test_an_upload_whose_queue_does_not_answer_is_kept_and_given_a_task_by_the_clock(
        office, facebook, settings, django_capture_on_commit_callbacks):
    settings.TASKS = {"default": {"BACKEND": "tests.upkeep.test_tasks.QueueDown", "QUEUES": tasks.QUEUES}}
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        media = upload(office, facebook)  # no error for the office: the upload is kept, queued
    media.refresh_from_db()
    assert media.analysis == "queued" and not analysis_tasks().exists()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": tasks.QUEUES}}
    analysis.give_forgotten_tasks()  # what the clock does every minute (worker.queue_stale_work)
    assert tasks.waiting(analysis.analyse) == {media.pk}
    assert tasks.run_queued(tasks.SLOW) == 1
