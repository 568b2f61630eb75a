"""Throughput of the public confirmation page against a bare Flask endpoint, same gunicorn.

    python benchmarks/public_pages.py [--seconds 3] [--rounds 10] [--clients 8] [--workers 2]

Builds a fresh SQLite database (migrations, roles and permission rows, as ``python run.py``
does), then serves, one after the other and each under ``gunicorn -w 2`` (sync workers):

- the project: the standalone app (``renewal_reminder.standalone.create_app``), CSRF and the
  rate limiter on as in production; ``GET /confirm/`` (step 1: the code form, its CSRF token
  and session cookie, the CSP nonce, the page's language);
- the baseline: a bare Flask app whose one endpoint returns the same page's bytes (captured
  from the project first), so both answers put the same bytes on the wire.

Both servers run side by side; ``--clients`` threads load them in turn (project, bare,
project, bare, ...: ``--rounds`` slices of ``--seconds`` each; a new connection per request, as
gunicorn's sync workers close them). Each slice gives requests per second and the servers'
CPU time per request (master and workers, from /proc): the ratios are taken slice by slice
and their medians printed. The CPU ratio is the steadier one on a shared machine (the
throughput ratio moves with whatever else the machine runs).
Target (issue 16): the project at least 0.3x the bare endpoint's requests per second.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "benchmark-public-pages-" + "k" * 32


def project_app():
    """The gunicorn target for the project (the database named by ``RR_BENCH_DB``)."""
    from renewal_reminder.standalone import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{os.environ['RR_BENCH_DB']}",
            "SECRET_KEY": SECRET,
            "SCHEDULER_ENABLED": False,
            "FAB_UPDATE_PERMS": False,
        }
    )


def bare_app():
    """The gunicorn target for the baseline: one endpoint, the project's page as bytes."""
    from flask import Flask, Response

    body = Path(os.environ["RR_BENCH_BODY"]).read_bytes()
    app = Flask(__name__)

    @app.get("/confirm/")
    def page():
        return Response(body, mimetype="text/html")

    return app


def build(db_file: Path) -> bytes:
    """The database, and the project's page as the baseline will serve it."""
    from renewal_reminder.setup import prepare_database
    from renewal_reminder.standalone import create_app

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_file}",
            "SECRET_KEY": SECRET,
            "SCHEDULER_ENABLED": False,
            "TESTING": True,
        }
    )
    with app.app_context():
        prepare_database(app)
    response = app.test_client().get("/confirm/")
    assert response.status_code == 200, response.status_code
    return response.get_data()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def start(target: str, port: int, workers: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--chdir",
            str(ROOT / "benchmarks"),
            "--log-level",
            "warning",
            target,
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(port, "/confirm/") == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError(f"{target} did not start")


def server_cpu_seconds(server: subprocess.Popen) -> float:
    """User + system CPU seconds of the gunicorn master and its workers so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [server.pid]
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    pids += [int(pid) for pid in children.read_text().split()]
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def load(port: int, clients: int, seconds: float) -> int:
    """How many requests ``clients`` threads get answered in ``seconds`` (all must be 200)."""
    done = [0] * clients
    failures: list[int] = []
    stop = time.monotonic() + seconds

    def client(index: int) -> None:
        while time.monotonic() < stop:
            status = get(port, "/confirm/")
            if status != 200:
                failures.append(status)
            done[index] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200: {failures[:5]}")
    return sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3, help="length of one slice")
    parser.add_argument("--rounds", type=int, default=10, help="slices per server")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="rr-public-bench-"))
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        db_file = folder / "bench.db"
        body_file = folder / "page.html"
        body_file.write_bytes(build(db_file))
        env = {"RR_BENCH_DB": str(db_file), "RR_BENCH_BODY": str(body_file)}
        for name, target in (
            ("project", "public_pages:project_app()"),
            ("bare", "public_pages:bare_app()"),
        ):
            port = free_port()
            servers[name] = (start(target, port, args.workers, env), port)
            for _ in range(50):  # warm every worker
                get(port, "/confirm/")
        rates: dict[str, list[float]] = {"project": [], "bare": []}
        cpu: dict[str, list[float]] = {"project": [], "bare": []}
        for _ in range(args.rounds):
            for name, (server, port) in servers.items():
                cpu_before, started = server_cpu_seconds(server), time.monotonic()
                count = load(port, args.clients, args.seconds)
                elapsed = time.monotonic() - started
                rates[name].append(count / elapsed)
                cpu[name].append((server_cpu_seconds(server) - cpu_before) * 1000 / count)
        rate_ratios = [p / b for p, b in zip(rates["project"], rates["bare"], strict=True)]
        cpu_ratios = [b / p for p, b in zip(cpu["project"], cpu["bare"], strict=True)]
        median = statistics.median
        print(
            f"GET /confirm/ under gunicorn -w {args.workers} (sync), {args.clients} clients, "
            f"{args.rounds} alternating slices of {args.seconds:.0f} s each, "
            f"{len(body_file.read_bytes()):,} bytes per page"
        )
        print(
            f"  project (standalone app):          {median(rates['project']):6.0f} req/s, "
            f"{median(cpu['project']):.2f} ms server CPU per request"
        )
        print(
            f"  baseline (bare Flask, same bytes): {median(rates['bare']):6.0f} req/s, "
            f"{median(cpu['bare']):.2f} ms server CPU per request"
        )
        print(
            f"  ratio (median of the slices' ratios): {median(rate_ratios):.2f}x the requests "
            f"per second, {median(cpu_ratios):.2f}x by server CPU per request  (target >= 0.3x)"
        )
        print(
            f"  machine: {platform.machine()}, {os.cpu_count()} CPUs, "
            f"Python {platform.python_version()}"
        )
    finally:
        for server, _ in servers.values():
            server.terminate()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
