"""One clock per installation: however many workers run, each round is enqueued by one of them,
and another takes over when that worker dies."""

import datetime
import functools

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from moderation.models import ClockLease
from moderation.upkeep import worker
from moderation.upkeep.worker import Clock, holds_the_clock

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 12, 1, 8, 0, tzinfo=datetime.timezone.utc)


def rounds_enqueued() -> int:
    return DBTaskResult.objects.filter(task_path=worker.comments_round.module_path).count()


def test_of_two_workers_clocks_only_one_enqueues_the_rounds():
    for me in ("worker-a", "worker-b"):
        worker.every_time(worker.comments_round, functools.partial(holds_the_clock, me))()
    assert rounds_enqueued() == 1


def test_each_worker_names_its_clock_apart_from_the_others():
    assert Clock().me != Clock().me


def test_the_clock_of_a_worker_that_died_is_taken_over():
    with time_machine.travel(START, tick=False) as traveller:
        assert holds_the_clock("worker-a")
        assert not holds_the_clock("worker-b")
        traveller.shift(datetime.timedelta(seconds=worker.LEASE_SECONDS - 1))
        assert holds_the_clock("worker-a")  # renewed by its holder in time
        traveller.shift(datetime.timedelta(seconds=worker.LEASE_SECONDS + 1))  # worker-a died: not renewed
        assert holds_the_clock("worker-b")
        assert not holds_the_clock("worker-a")


def test_a_clock_that_is_not_the_installations_takes_it_over_when_its_lease_job_next_asks():
    with time_machine.travel(START, tick=False) as traveller:
        assert holds_the_clock("worker-a")
        clock = Clock()
        assert not clock.is_the_clock()
        ClockLease.objects.all().delete()  # the lease is free now
        traveller.shift(datetime.timedelta(seconds=10))
        assert not clock.is_the_clock()  # its last answer stands until the lease job asks...
        assert clock.is_the_clock(ask=True)  # ...every half minute: it takes the clock
        assert clock.is_the_clock()
