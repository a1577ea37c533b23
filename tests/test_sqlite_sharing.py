"""The default installation: the web server and the worker share one SQLite file. Two processes
writing at once queue for the lock instead of failing, and the audit chain stays one chain."""

import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="SQLite's own behaviour: tried in the SQLite run")


def manage(tmp_path, *args):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "DATABASE_URL"}
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env={**clean, "DATA_DIR": str(tmp_path)},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_processes_writing_to_the_sqlite_file_at_once_both_succeed_and_keep_one_chain(tmp_path):
    migrate = manage(tmp_path, "migrate", "--noinput")
    assert migrate.wait(timeout=300) == 0, migrate.stdout.read()
    write = ("from config.school.tenancy import first_school, in_school\n"
             "school_scope = in_school(first_school()); school_scope.__enter__()\n"
             "from config.school.models import AuditEntry\n"
             "for n in range(150): AuditEntry.objects.create(action='test.write', summary=f'entry {n}', data={'n': n})")
    writers = [manage(tmp_path, "shell", "-c", write) for _ in range(2)]
    outputs = [(w.wait(timeout=300), w.stdout.read()) for w in writers]
    assert all(code == 0 for code, _ in outputs), outputs
    assert not any("database is locked" in out for _, out in outputs)
    check = manage(tmp_path, "verify_audit")
    out = check.stdout.read()
    assert check.wait(timeout=120) == 0 and "whole: 300 entries" in out, out


def test_the_sqlite_file_uses_write_ahead_logging(tmp_path):
    probe = manage(tmp_path, "shell", "-c", "from django.db import connection\n"
                   "with connection.cursor() as c: c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])")
    assert probe.wait(timeout=120) == 0
    assert probe.stdout.read().strip().splitlines()[-1] == "wal"
