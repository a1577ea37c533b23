"""`/health/` tells the proxy and the school's monitoring whether the product can do its job, and nothing else."""

import datetime

import time_machine
from django.test import Client
from redis.exceptions import RedisError

from moderation.drafts import analysis
from moderation.publishing import scheduling
from moderation.upkeep import health, worker


def test_without_a_worker_the_health_page_fails_and_says_to_start_one(db):
    response = Client().get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing" and body["database"]["ok"] and not body["worker"]["ok"]
    assert "run_worker" in body["worker"]["problem"]


def test_with_a_worker_heard_of_lately_the_product_is_healthy(db):
    health.beat()
    response = Client().get("/health/")
    assert response.status_code == 200 and response.json()["status"] == "ok"
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_worker_silent_for_over_two_minutes_fails_the_health_page(db):
    start = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        health.beat()
        clock.move_to(start + datetime.timedelta(minutes=3))
        body = Client().get("/health/").json()
    assert not body["worker"]["ok"] and body["worker"]["last_heard_seconds_ago"] == 180


def test_a_data_folder_short_of_space_fails_the_health_page(db, settings):
    health.beat()
    settings.HEALTH_MIN_FREE_MB = 10**12
    response = Client().get("/health/")
    assert response.status_code == 503 and not response.json()["disk"]["ok"]


def test_the_health_page_holds_no_personal_data(db, office):
    health.beat()
    body = Client().get("/health/").content.decode()
    assert "office" not in body and "@" not in body
    assert set(Client().get("/health/").json()) == {"status", "database", "worker", "tasks", "disk", "files", "school_wall"}


def test_tasks_waiting_a_little_are_counted_and_the_product_is_healthy(db):
    health.beat()
    worker.reviews_round.enqueue()
    body = Client().get("/health/").json()
    assert body["status"] == "ok" and body["tasks"]["waiting"]["rounds"]["count"] == 1


def test_a_post_due_that_no_worker_has_taken_for_five_minutes_fails_the_health_page(db):
    start = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        scheduling.publish_at_its_time.enqueue(1)
        clock.move_to(start + datetime.timedelta(minutes=6))
        health.beat()  # the worker is alive, but its tasks do not move: stuck
        response = Client().get("/health/")
    body = response.json()
    assert response.status_code == 503 and not body["tasks"]["ok"] and "publishing" in body["tasks"]["problem"]
    assert body["tasks"]["waiting"]["publishing"] == {"count": 1, "oldest_seconds": 360}


def test_an_upload_may_wait_longer_behind_the_others_before_the_page_fails(db):
    start = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        analysis.analyse.enqueue(1)
        clock.move_to(start + datetime.timedelta(minutes=20))
        health.beat()
        assert Client().get("/health/").json()["tasks"]["ok"]
        clock.move_to(start + datetime.timedelta(minutes=31))
        health.beat()
        assert not Client().get("/health/").json()["tasks"]["ok"]


def test_a_task_queue_that_does_not_answer_fails_the_health_page_and_says_where_to_look(db, monkeypatch):
    def down(now=None):
        raise RedisError("Connection refused")

    health.beat()
    monkeypatch.setattr(health.tasks, "backlog", down)
    response = Client().get("/health/")
    assert response.status_code == 503 and "REDIS_URL" in response.json()["tasks"]["problem"]


def test_a_missing_data_folder_fails_the_health_page_and_names_it(db, settings, tmp_path):
    health.beat()
    settings.DATA_DIR = tmp_path / "not-made"
    response = Client().get("/health/")
    assert response.status_code == 503 and "DATA_DIR" in response.json()["disk"]["problem"]


def test_workers_not_heard_of_for_a_day_are_forgotten(db):
    start = datetime.datetime(2026, 12, 1, 9, 0, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        health.beat()
        clock.move_to(start + datetime.timedelta(days=1, minutes=1))
        assert health.forget_old_beats() == 1
