"""Production's gunicorn settings (cxhub/gunicorn.py), as the Dockerfile and compose load them."""

import importlib

import pytest

import cxhub.gunicorn


@pytest.fixture
def load(monkeypatch):
    def load(cpus: int, web_concurrency: str | None = None):
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(cpus)))
        if web_concurrency is None:
            monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
        else:
            monkeypatch.setenv("WEB_CONCURRENCY", web_concurrency)
        return importlib.reload(cxhub.gunicorn)

    yield load
    monkeypatch.undo()
    importlib.reload(cxhub.gunicorn)


def test_four_sync_workers_per_core(load):
    settings = load(cpus=2)
    assert (settings.workers, settings.worker_class) == (8, "sync")


def test_the_default_leaves_postgresql_connections_to_spare_on_a_big_machine(load):
    assert load(cpus=32).workers == 16


def test_web_concurrency_sets_the_workers(load):
    assert load(cpus=2, web_concurrency="3").workers == 3
