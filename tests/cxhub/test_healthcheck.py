"""The web container's health check (cxhub/healthcheck.py, run by docker-compose.yml)."""

from pathlib import Path

import pytest

from cxhub import healthcheck

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("cx.example.com", "cx.example.com"),
        (" cx.example.com , localhost", "cx.example.com"),
        (".example.com", "example.com"),
        ("*", "localhost"),
        ("", "localhost"),
    ],
)
def test_the_host_it_asks_as_is_one_allowed_hosts_accepts(allowed, host):
    assert healthcheck.host_header(allowed) == host


def test_with_only_the_real_domain_allowed_the_check_passes_where_asking_for_127_0_0_1_fails(
    client, db, settings
):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["cx.example.com"]
    assert client.get("/healthz", HTTP_HOST="127.0.0.1:8000").status_code == 400
    host = healthcheck.host_header("cx.example.com")
    assert client.get("/healthz", HTTP_HOST=host).status_code == 200


def test_the_check_requests_healthz_over_http_and_reports_the_status(live_server, monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", "localhost")
    assert healthcheck.check(f"{live_server.url}/healthz") is True
    assert healthcheck.check(f"{live_server.url}/no-such-page") is False
    assert healthcheck.check("http://127.0.0.1:9/healthz", timeout=1) is False  # nothing there


def test_docker_compose_runs_it_in_the_web_container():
    compose = (ROOT / "docker-compose.yml").read_text()
    web = compose.split("\n  web:\n", 1)[1].split("\n  worker:\n", 1)[0]
    assert 'test: ["CMD", "python", "-m", "cxhub.healthcheck"]' in web


def test_the_image_leaves_out_local_state_and_secrets():
    """Dockerfile's `COPY . .` would otherwise put a developer's .env (read by settings
    at run time), the virtualenv and the SQLite file into the image."""
    assert "COPY . ." in (ROOT / "Dockerfile").read_text()
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git", "db.sqlite3*", "staticfiles"} <= ignored
