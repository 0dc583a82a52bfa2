"""Helpers shared by the benchmark scripts: databases, Redis, gunicorn, wrk, percentiles.

Everything here talks to loopback only (PostgreSQL, Redis, gunicorn on 127.0.0.1), and
every process it starts is stopped again, also on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
PYTHON = sys.executable


# --- interruption ----------------------------------------------------------------------


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt, so that every `finally` (stop gunicorn, drop
    the database, flush Redis) runs whether the bench is stopped by Ctrl-C or by kill."""

    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _raise)


def _cpu_times() -> tuple[int, int]:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def cpu_idle(seconds: float = 1.0) -> float:
    """Share of the machine's CPU left idle over `seconds` (0..1): other jobs on the
    box (tests, browsers) make every figure here slower, so the scripts print it."""
    total0, idle0 = _cpu_times()
    time.sleep(seconds)
    total1, idle1 = _cpu_times()
    return (idle1 - idle0) / max(1, total1 - total0)


def _pid_cpu(pid: int) -> int:
    """Clock ticks a process and its reaped children have used (utime+stime+cutime+cstime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return sum(int(x) for x in fields[11:15])


def _descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


# Above this many CPUs used by other work during a measurement, the scripts redo it.
NOISY_CPUS = 0.25


class CpuMeter:
    """How much CPU the rest of the machine used while a measurement ran.

    "Ours" is this process and all its descendants (gunicorn, wrk), plus the PostgreSQL
    backends `backend_pids()` names; everything else busy on the machine (someone's test
    suite, a browser, PostgreSQL work for other databases) is "other", reported in CPUs.
    A figure measured while others used a sizeable share of the 2 CPUs is not a figure
    about this code.
    """

    def __init__(self, backend_pids=lambda: []):
        self.backend_pids = backend_pids
        self.other_cpus = self.own_cpus = 0.0

    def _snapshot(self, pids: set[int]):
        total, idle = _cpu_times()
        return total, total - idle, {pid: _pid_cpu(pid) for pid in pids}

    def _pids(self) -> set[int]:
        me = os.getpid()
        return {me, *_descendants(me), *self.backend_pids()}

    def __enter__(self):
        self.start = self._snapshot(self._pids())
        return self

    def __exit__(self, *exc):
        pids = self._pids() | set(self.start[2])
        total, busy, own = self._snapshot(pids)
        own_delta = sum(own[pid] - self.start[2].get(pid, 0) for pid in pids)
        cpus = os.cpu_count() or 1
        elapsed = max(1, total - self.start[0])  # ticks summed over all CPUs
        self.own_cpus = own_delta / elapsed * cpus
        self.other_cpus = max(0.0, (busy - self.start[1] - own_delta) / elapsed * cpus)
        return False


def wait_for_quiet(*, idle: float = 0.8, max_wait: float = 45.0) -> float:
    """Wait (at most max_wait seconds) until the machine is at least `idle` idle over a
    2 s window, so that a run does not start in the middle of someone's test suite.
    Returns the last idle share seen; the caller reports it next to the figures."""
    deadline = time.monotonic() + max_wait
    seen = cpu_idle(2.0)
    if seen < idle and max_wait > 0:
        print(f"  machine only {seen:.0%} idle; waiting up to {max_wait:.0f} s ...", flush=True)
    while seen < idle and time.monotonic() < deadline:
        seen = cpu_idle(2.0)
    return seen


def machine_note() -> str:
    load1, load5, _ = os.getloadavg()
    idle = cpu_idle()
    note = f"{os.cpu_count()} CPUs, load average {load1:.2f} (1 min) {load5:.2f} (5 min), {idle:.0%} idle"
    if idle < 0.85:
        note += " -- WARNING: other work is running on this machine; figures will be lower"
    return note


# --- PostgreSQL ------------------------------------------------------------------------


def psql(sql: str, db: str = "postgres") -> str:
    """Run one statement with psql; return its unaligned, tuples-only output."""
    return subprocess.run(
        ["psql", f"{PG}/{db}", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def fresh_database(name: str) -> str:
    """Drop, create and migrate a database; return its DATABASE_URL."""
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')
    url = f"{PG}/{name}"
    manage("migrate", "--noinput", "-v0", env={"DATABASE_URL": url})
    return url


def drop_database(name: str) -> None:
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(*args, env=None) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, check=True, env={**os.environ, **(env or {})}
    )


# --- Redis -----------------------------------------------------------------------------


def redis(*args: str, db: int) -> str:
    return subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "-n", str(db), *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


# --- gunicorn --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(base: str, method: str, path: str, body: str = "", headers=None):
    """One request, redirects not followed: (status, headers, body)."""
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request(method, path, body=body.encode() or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(env: dict, workers: int | None = None, ready_path: str = "/bench/bare/"):
    """Serve bench.settings with gunicorn on a free loopback port, with production's
    settings (cxhub/gunicorn.py: sync workers, four per core) unless `workers` is given.

    No access log (gunicorn's default; GUNICORN_CMD_ARGS and WEB_CONCURRENCY are dropped
    so nothing from the caller's environment changes the server). The server runs in its
    own session, so Ctrl-C reaches only this script, which then stops gunicorn itself:
    SIGTERM (graceful), then SIGKILL to its process group if it has not exited within 10 s.
    """
    port = free_port()
    full_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings", **env}
    full_env.pop("GUNICORN_CMD_ARGS", None)
    full_env.pop("WEB_CONCURRENCY", None)
    command = [
        PYTHON,
        "-m",
        "gunicorn",
        "cxhub.wsgi",
        "--config",
        "python:cxhub.gunicorn",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--graceful-timeout",
        "5",
    ]
    if workers:
        command += ["--workers", str(workers)]
    process = subprocess.Popen(command, cwd=ROOT, env=full_env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http_request(base, "GET", ready_path)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# --- wrk -------------------------------------------------------------------------------

# Counts responses per HTTP status in every wrk thread and prints the totals at the end,
# so a run can check that the POST really answered 302 (wrk itself only reports
# "Non-2xx or 3xx responses", and would count a 301 to https as a success).
WRK_STATUS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  statuses = {}
  if prepare then prepare(args) end  -- a script's own per-thread set-up
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  for status, n in pairs(total) do io.write(string.format("status %d %d\\n", status, n)) end
  -- The latency distribution's upper part, for merging runs (bench._common.merged_percentile).
  for p = 900, 999 do  -- (wrk answers 0 for the 100th)
    io.write(string.format("latency %.1f %d\\n", p / 10, latency:percentile(p / 10)))
  end
end
"""


def wrk_script(body: str = "") -> str:
    """Write a wrk Lua script (request code + status counting) to a temp file; return
    its path. The caller deletes it."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-", delete=False) as f:
        f.write(body + "\n" + WRK_STATUS_LUA)
        return f.name


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def wrk(
    url: str,
    *,
    script: str | None = None,
    seconds: int = 15,
    connections: int = 8,
    threads: int = 2,
) -> dict:
    """Run wrk --latency against a loopback URL.

    Returns req/s, completed requests, p50/p75/p90/p99 (ms, from wrk's latency
    distribution), non-2xx/3xx responses, socket errors and, when the script counts
    them, responses per status.
    """
    assert url.startswith("http://127.0.0.1:"), "load goes to loopback only"
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
    ]
    if script:
        cmd += ["-s", script]
    out = subprocess.run(
        [*cmd, url], check=True, capture_output=True, text=True, timeout=seconds + 30
    ).stdout
    non_2xx_3xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "bad": int(non_2xx_3xx.group(1)) if non_2xx_3xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "statuses": {int(s): int(n) for s, n in re.findall(r"^status (\d+) (\d+)$", out, re.M)},
        "output": out,
    }
    for p in (50, 75, 90, 99):
        result[f"p{p}"] = _ms(re.search(rf"^\s+{p}%\s+(\S+)", out, re.M).group(1))
    result["latencies"] = [
        (float(p), int(us) / 1000) for p, us in re.findall(r"^latency ([\d.]+) (\d+)$", out, re.M)
    ]
    return result


def merged_percentile(runs: list[dict], q: float) -> float:
    """The q-th percentile (ms, q >= 90) of several wrk runs' latencies taken together,
    from each run's distribution (the `latency` lines of WRK_STATUS_LUA) weighted by its
    requests: the smallest latency at or under which q % of all requests finished."""
    candidates = sorted({ms for r in runs for _, ms in r["latencies"]})
    total = sum(r["requests"] for r in runs)
    for value in candidates:
        done = 0.0
        for r in runs:
            share = max((p for p, ms in r["latencies"] if ms <= value), default=0.0)
            done += r["requests"] * share / 100
        if done >= total * q / 100 - 1e-9:
            return value
    return candidates[-1]


# --- statistics and verdicts -------------------------------------------------------------


def percentiles(samples_ms: list[float]) -> dict:
    """Nearest-rank percentiles of a list of durations in milliseconds."""
    ordered = sorted(samples_ms)

    def pct(p):
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    return {
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1],
        "mean": statistics.fmean(ordered),
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"
