"""Real processes of the product (the worker, a publish) on the test's own database and data folder.

They share the test database only on PostgreSQL: SQLite's test database lives in memory.
"""

import os
import subprocess
import sys
import time

# What a `shell -c` script starts with: the first school's data is read and written in its scope,
# as a request or a command of that school would.
IN_THE_SCHOOL = "from config.school.tenancy import first_school, in_school; school_scope = in_school(first_school()); school_scope.__enter__(); "


def process_env(tmp_path, **extra) -> dict:
    from django.conf import settings
    from django.db import connection

    db = connection.settings_dict
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(tmp_path),
            "FACE_ENCRYPTION_KEY": settings.FACE_KEY,
            "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or 'localhost'}:{db['PORT'] or 5432}/{db['NAME']}",
            **extra}


def start(tmp_path, *args, **extra) -> subprocess.Popen:
    """`manage.py ARGS` in its own process; its output goes to a numbered log in tmp_path."""
    from django.conf import settings

    log = open(tmp_path / f"worker-{len(list(tmp_path.glob('worker-*.log')))}.log", "w")
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env=process_env(tmp_path, **extra),
                            stdout=log, stderr=subprocess.STDOUT)


def logs(tmp_path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp_path.glob("worker-*.log")))


def wait_for(condition, what, tmp_path, tries=1800):
    for _ in range(tries):  # up to three minutes
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting until {what}\n{logs(tmp_path)}")
