"""tests/run.py (make test): what it prints about the services ends up in CI logs."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("make_test", Path(__file__).with_name("run.py"))
run = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run)


def test_service_urls_are_printed_without_their_passwords():
    assert run.where("postgres://cx:s3cret@db.internal:6543/cxhub", 5432) == (
        "postgres://db.internal:6543/cxhub"
    )
    assert run.where("redis://:s3cret@127.0.0.1/0", 6379) == "redis://127.0.0.1:6379/0"
