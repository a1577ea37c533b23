"""Running the background tasks: Django's Tasks API (django-tasks), on its database backend or on
Redis (RQ).

Each piece of background work is a task defined beside the work it does: analysing an upload
(`drafts/analysis.py`), making a video's published copy (`publishing/video_copies.py`), publishing
a draft at its time (`publishing/scheduling.py`) and the worker's rounds (`upkeep/worker.py`).

A task is enqueued in the same transaction as the state it acts on (a file marked queued, say),
so a worker sees it only once that state is committed, and never if it is rolled back. Every task
decides again from the database what to do, so a task run twice does nothing twice. A worker
killed in the middle of a task leaves the task marked running (the database backend never runs it
again): the work itself is queued again from its own state (`analysis.requeue_abandoned`), and the
task is closed as failed (`close_abandoned`) so that nothing looks busy that is not.

The same tasks run on a Redis queue (RQ, through django-tasks-rq) when TASKS_BACKEND says so, for
many worker processes on many machines: then `run_worker` runs an RQ worker (`RedisWorker`), and
the few functions here that read a backend's own records (`run_queued`, `waiting`, `backlog`,
`prune`, `close_abandoned`) read RQ's. There the work on pictures takes turns among the schools
by feeding the queue a few tasks at a time (`feed`), since RQ's queues take no priority.
"""

import functools
import logging
import os
import socket
import uuid
from datetime import timedelta
from datetime import timezone as dt_timezone

import django_rq
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import TaskResultStatus, task_backends
from django_tasks.base import TASK_MAX_PRIORITY, TASK_MIN_PRIORITY
from django_tasks_db import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction
from django_tasks_rq import Job as RedisJob
from django_tasks_rq import RQBackend
from rq import SimpleWorker
from rq.registry import StartedJobRegistry

from connectors.models import worker_name
from moderation.upkeep import stopping

logger = logging.getLogger(__name__)

# The slow work (faces in photos and videos, videos' published copies) and the quick work that
# must not wait behind it (a post due at 9:00, the rounds) are run by separate loops.
SLOW = ("analysis", "copies")
QUICK = ("publishing", "rounds")
QUEUES = [*SLOW, *QUICK]


class WorkerStopped(Exception):
    """The worker running a task stopped before the task ended."""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def gone(worker: str) -> bool:
    """A worker named "host:pid" (connectors.models.worker_name) on this machine whose process has ended."""
    host, _, pid = worker.rpartition(":")
    return host == socket.gethostname() and (not pid.isdigit() or not alive(int(pid)))


def enqueue(a_task, *args) -> None:
    """Enqueue a task for the state this transaction writes. The database backend writes the task in
    the same transaction, so a worker sees both or neither; any other backend (a Redis queue, say)
    is handed the task once the transaction commits, so that no worker runs it before the state it
    acts on exists."""
    if isinstance(a_task.get_backend(), DatabaseBackend):
        a_task.enqueue(*args)
    else:
        transaction.on_commit(functools.partial(_hand_over, a_task, *args))


def _hand_over(a_task, *args) -> None:
    try:
        a_task.enqueue(*args)
    except Exception:  # Redis down, say: the state stays queued and the worker's clock gives it a task again
        logger.exception("The task queue did not take %s%s; the worker's clock gives it a task within a minute", a_task.name, args)


def in_turn(a_task, waiting_beside):
    """The task with its turn among the schools: a school with nothing else waiting goes first,
    and each further file of the same school one step later, so that one school's 300-photo upload
    does not hold every other school's photo behind it. The database queue takes the most urgent
    first (then the oldest). (On Redis, which takes no priority, `enqueue_in_turn` feeds the queue
    in turn instead.)

    `waiting_beside` counts the same school's other files waiting; it is asked only when the
    turn is needed."""
    if not settings.TASKS_FAIR_TURNS or not a_task.get_backend().supports_priority:
        return a_task
    waiting = waiting_beside()
    if waiting <= 0:
        return a_task.using(priority=TASK_MAX_PRIORITY)
    return a_task.using(priority=max(TASK_MIN_PRIORITY, -waiting))


def fed_in_turn(a_task) -> bool:
    """Whether this kind of task is handed to its queue a few at a time, in turn (`feed`): on
    Redis, with fair turns."""
    return settings.TASKS_FAIR_TURNS and not a_task.get_backend().supports_priority


def enqueue_in_turn(a_task, an_id, waiting_beside, queued) -> None:
    """The task for this id, in its turn among the schools. On the database queue, with its
    priority (`in_turn`). On Redis, where a queue is first in, first out and takes no priority
    (django-tasks-rq's backend says supports_priority = False), the queue is fed in turn once
    this transaction commits (`feed`)."""
    if fed_in_turn(a_task):
        transaction.on_commit(functools.partial(feed, a_task, queued))
    else:
        enqueue(in_turn(a_task, waiting_beside), an_id)


# On Redis, each worker on a queue has this many of its tasks waiting for it, no more: the rest
# wait in the database, in their state, and are handed over in turn as the queue runs down.
WAITING_PER_WORKER = 2


def feed(a_task, queued) -> int:
    """Hand a Redis queue the next tasks in turn until it holds a short window (WAITING_PER_WORKER
    for each worker on it). `queued()` gives (id, school id) of the files whose state says queued,
    oldest first; those without a task waiting go in turns among the schools (`in_turns`), and
    each school's last turn is kept in Redis beside the queue. Called when a file is queued, by a
    worker each time it ends such a task, and by the clock every minute; one feeder at a time (a
    Redis lock). Returns how many were handed over."""
    try:
        [queue] = queues_in_redis([a_task.queue_name])
        redis = queue.connection
        lock = redis.lock(f"school-social:feed:{a_task.queue_name}", timeout=60)
        if not lock.acquire(blocking_timeout=10):
            return 0  # another feeder holds it, and hands over what this one would have
        try:
            room = max(WAITING_PER_WORKER, WAITING_PER_WORKER * RedisWorker.count(queue=queue)) - queue.count
            if room <= 0:
                return 0
            turns_key = f"school-social:turns:{a_task.queue_name}"
            last_turns = {int(school): int(turn) for school, turn in redis.hgetall(turns_key).items()}
            # Held: the files with a task waiting in the queue. A task being run is not: its file is
            # running, or was put back by a worker stopping or found dead, and needs a task again.
            chosen = in_turns(queued(), _waiting_in(queue, a_task), last_turns)[:room]
            for an_id, school in chosen:
                a_task.enqueue(an_id)
                redis.hset(turns_key, str(school), redis.incr(f"{turns_key}:count"))
            return len(chosen)
        finally:
            lock.release()
    except Exception:  # Redis down, say: the files stay queued and the clock feeds the queue within a minute
        logger.exception("The task queue %s could not be fed; the worker's clock tries again within a minute", a_task.queue_name)
        return 0


def in_turns(rows, held, last_turns) -> list[tuple[int, int]]:
    """Round-robin among the schools: rows are (id, school id) of queued files, oldest first; held
    are ids that already have a task; last_turns gives each school's last turn (a rising number;
    a school never served has none). The school whose last turn is oldest goes next, with its
    oldest file; between schools never served, the one whose file waited longest."""
    by_school = {}
    for an_id, school in rows:
        if an_id not in held:
            by_school.setdefault(school, []).append(an_id)
    turns, order = dict(last_turns), []
    next_turn = max(turns.values(), default=0) + 1
    while by_school:
        school = min(by_school, key=lambda s: (turns.get(s, 0), by_school[s][0]))
        order.append((by_school[school].pop(0), school))
        turns[school], next_turn = next_turn, next_turn + 1
        if not by_school[school]:
            del by_school[school]
    return order


def give_tasks(a_task, ids, enqueue_one) -> int:
    """Each of these ids (of files whose state says queued) without a task of this kind waiting or
    running gets one: files queued before tasks existed, or whose queue did not answer. Returns how many."""
    missing = sorted(set(ids) - waiting(a_task))
    for id in missing:
        enqueue_one(id)
    return len(missing)


def on_redis() -> bool:
    return isinstance(task_backends["default"], RQBackend)


class RedisWorker(SimpleWorker):
    """RQ's worker without a fork per task (the face models stay loaded), which on SIGTERM also asks
    the analysis in hand to stop at its next step, as the database loops do: the file goes back to
    the queue for another worker."""

    def request_stop(self, signum, frame):
        stopping.requested.set()
        super().request_stop(signum, frame)


def redis_worker(queues) -> RedisWorker:
    # A name of its own: a worker restarted with the pid of one killed on this machine is not
    # taken by RQ for the dead one, which it keeps registered for minutes.
    return django_rq.get_worker(*queues, job_class=RedisJob, worker_class=RedisWorker, name=f"{worker_name()[:50]}:{uuid.uuid4().hex[:8]}")


def redis_queues(url: str) -> dict:
    """django-rq's RQ_QUEUES for a Redis server (as config/settings.py builds it from REDIS_URL)."""
    return {name: {"URL": url, "DEFAULT_TIMEOUT": 3600} for name in [*QUEUES, "default"]}


def queues_in_redis(queues):
    return [django_rq.get_queue(name, job_class=RedisJob) for name in queues]


def _worker(queues, *, batch: bool) -> Worker:
    return Worker(
        queue_names=list(queues), interval=1.0, batch=batch, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id=worker_name()[:64], excluded_queue_names=[],
    )


def runner(queues) -> Worker:
    """A loop that runs the tasks of these queues as they come, until its `running` is set False."""
    return _worker(queues, batch=False)


def run_queued(queues, limit: int | None = None) -> int:
    """Run the tasks waiting in these queues here and now, most urgent and then oldest first, until
    none is left (or `limit` of them did some work). Returns how many did: a task that found its
    work already done returns False and is not counted.

    `run_worker --once` and the tests use it. Unlike the worker's loop it keeps this thread's
    database connection open, as a test's transaction needs."""
    if on_redis():  # every task run counts
        done = 0
        while (limit is None or done < limit) and redis_worker(queues).work(burst=True, max_jobs=1, logging_level="WARNING"):
            done += 1
        return done
    loop = _worker(queues, batch=True)
    done = 0
    while limit is None or done < limit:
        waiting = DBTaskResult.objects.ready().filter(backend_name="default", queue_name__in=list(queues))
        with exclusive_transaction(waiting.db):
            result = waiting.get_locked()
            if result is None:
                break
            result.claim(loop.worker_id)
        loop.run_task(result)
        if result.status == TaskResultStatus.SUCCESSFUL and result.return_value not in (False, 0, None):
            done += 1
    return done


def waiting(a_task) -> set:
    """The first argument of every task of this kind that waits or runs now."""
    if on_redis():
        [queue] = queues_in_redis([a_task.queue_name])
        return _waiting_in(queue, a_task, StartedJobRegistry(queue=queue).get_job_ids())
    rows = DBTaskResult.objects.filter(
        task_path=a_task.module_path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING],
    ).values_list("args_kwargs", flat=True)
    return {row["args"][0] for row in rows if row.get("args")}


def _waiting_in(queue, a_task, also=()) -> set:
    """The first argument of every task of this kind waiting in this Redis queue (and of the jobs `also`)."""
    jobs = RedisJob.fetch_many(queue.job_ids + list(also), connection=queue.connection)
    return {job.args[0] for job in jobs if job is not None and job.func_name == a_task.module_path and job.args}


def backlog(now=None) -> dict[str, tuple[int, float]]:
    """For each queue with tasks due and waiting for a worker: how many, and how many seconds the
    oldest has waited."""
    now = now or timezone.now()
    if on_redis():
        found = {}
        for queue in queues_in_redis(QUEUES):
            oldest = queue.get_jobs(0, 1)  # the first job in the queue
            if oldest and oldest[0].enqueued_at:
                found[queue.name] = (queue.count, (now - _aware(oldest[0].enqueued_at)).total_seconds())
        return found
    found = {}
    for queue, enqueued_at in DBTaskResult.objects.ready().filter(backend_name="default").values_list("queue_name", "enqueued_at"):
        count, oldest = found.get(queue, (0, now))
        found[queue] = (count + 1, min(oldest, enqueued_at))
    return {queue: (count, (now - oldest).total_seconds()) for queue, (count, oldest) in found.items()}


def _aware(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


def prune(now=None) -> int:
    """The records of tasks that ended more than settings.TASK_RECORDS_DAYS ago are deleted (the
    audit trail and the drafts keep what happened; these only say which worker ran what)."""
    if on_redis():
        return 0  # RQ lets its results expire by itself
    now = now or timezone.now()
    deleted, _ = DBTaskResult.objects.finished().filter(finished_at__lt=now - timedelta(days=settings.TASK_RECORDS_DAYS)).delete()
    return deleted


def close_abandoned() -> int:
    """At a worker's start: tasks left running by a worker on this machine whose process has ended
    are closed as failed (their work is queued again by its own state)."""
    if on_redis():
        return 0  # RQ moves a dead worker's jobs to its failed registry by itself
    closed = 0
    for result in DBTaskResult.objects.running().filter(~Q(worker_ids=[])):
        if gone(result.worker_ids[-1]):
            result.set_failed(WorkerStopped(f"The worker {result.worker_ids[-1]} stopped while running this task."))
            closed += 1
    if closed:
        logger.warning("%s task(s) left running by a stopped worker were closed", closed)
    return closed

