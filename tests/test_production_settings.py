"""Production settings: `check --deploy` passes with the README's settings; security headers,
a content security policy, sessions that end after inactivity, DEBUG off unless asked for."""

import datetime
import os
import secrets
import subprocess
import sys

import time_machine
from django.conf import settings

PRODUCTION = {
    "DJANGO_SECURE": "true",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(60),
    "DJANGO_ALLOWED_HOSTS": "social.aycliffe.kent.sch.uk",
}


def manage(*args, **env):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=settings.BASE_DIR, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_the_production_settings_in_the_readme():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_them():
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0 and "SECURE_SSL_REDIRECT" in result.stderr + result.stdout


def test_debug_is_off_unless_asked_for():
    code = "from django.conf import settings; print(settings.DEBUG)"
    assert manage("shell", "-c", code).stdout.strip().splitlines()[-1] == "False"
    assert manage("shell", "-c", code, DJANGO_DEBUG="1").stdout.strip().splitlines()[-1] == "True"


def test_every_page_carries_the_security_headers_and_a_content_security_policy(client, db):
    response = client.get("/mirror/")
    policy = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_a_session_ends_after_half_an_hour_without_a_request(client, office):
    from tests.conftest import PASSWORD

    start = datetime.datetime.now(datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as clock:
        assert client.post("/login/", {"username": "office", "password": PASSWORD}).status_code == 302
        clock.move_to(start + datetime.timedelta(minutes=25))
        assert client.get("/").status_code == 200  # in use: the session is renewed
        clock.move_to(start + datetime.timedelta(minutes=50))
        assert client.get("/").status_code == 200
        clock.move_to(start + datetime.timedelta(minutes=81))
        response = client.get("/")
    assert response.status_code == 302 and "/login/" in response["Location"]


# --- Static files, as the README's production steps serve them --------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_production_serves_the_styles_and_the_face_marking_script_compressed_with_hashed_names(tmp_path):
    import json

    import pytest

    if os.environ.get("DATABASE_URL"):
        pytest.skip("its own installation on SQLite: tried once, in the SQLite run")
    import re
    import time
    import urllib.request

    env = {**PRODUCTION, "DJANGO_BEHIND_PROXY": "true", "DATA_DIR": str(tmp_path)}
    for step in (("migrate", "--noinput"), ("collectstatic", "--noinput")):  # the README's steps
        result = manage(*step, **env)
        assert result.returncode == 0, result.stdout + result.stderr
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "config.wsgi", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
                              cwd=settings.BASE_DIR, env={**clean, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def get(path, **headers):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={
            "Host": "social.aycliffe.kent.sch.uk", "X-Forwarded-Proto": "https", **headers})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()

    try:
        for _ in range(100):
            try:
                status, _, page = get("/mirror/")
                break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        [css] = re.findall(rb'href="(/static/site\.[0-9a-f]{12}\.css)"', page)
        status, headers, body = get(css.decode())
        assert status == 200 and headers["Content-Type"].startswith("text/css") and b"body" in body
        assert "max-age=315360000" in headers["Cache-Control"]  # a hashed name never changes: cached for good
        manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())["paths"]
        status, headers, body = get(f"/static/{manifest['faces.js']}", **{"Accept-Encoding": "gzip"})
        assert status == 200 and "javascript" in headers["Content-Type"] and headers.get("Content-Encoding") == "gzip"
    finally:
        server.terminate()
        server.wait(timeout=10)
