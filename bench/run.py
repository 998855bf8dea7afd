"""`make bench`: seed a clinic, serve it with gunicorn beside a baseline, drive both with wrk.

    python -m bench.run [--db sqlite|postgresql] [--duration 10] [--concurrency 8] ...

Everything runs on loopback, in a temporary directory and a database of its own; the servers are
stopped and the database dropped however the run ends. See bench/README.md for the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
BIN = Path(sys.executable).parent
LOOPBACK = "127.0.0.1"
SUBMISSION_KEY_PLACEHOLDER = "__SUBMISSION_KEY__"
# Throughput of each page as a share of the baseline's, from issue 6.
TARGETS = {"chart": 0.6, "history": 0.4, "search": 0.5, "monitoring_post": 0.4}
# What a nurse types at the chair; every name is checked against MonitoringForm before use.
MONITORING_VALUES = {
    "systolic_bp": "128",
    "diastolic_bp": "79",
    "heart_rate": "84",
    "spo2": "97",
    "respiratory_rate": "14",
    "sedation_moaas": "4",
    "dissociation": "mild",
    "nausea": "none",
    "pain_nrs": "2",
    "phase": "during",
    "note": "",
}


@dataclass
class Page:
    name: str
    label: str
    path: str
    expected_status: int = 200
    server: str = "app"  # or "baseline"
    post_paths: list[str] = field(default_factory=list)
    post_fields: dict[str, str] = field(default_factory=dict)
    search: str | None = None  # posted with every request: the app keeps no search
    skipped: str | None = None


@dataclass
class Row:
    name: str
    label: str
    requests: int = 0
    requests_per_s: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    error_detail: dict[str, int] = field(default_factory=dict)
    ratio: float | None = None
    target: float | None = None
    passed: bool | None = None
    queries: int | None = None
    skipped: str | None = None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=None, help="admin URL of the loopback PostgreSQL")
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per page")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per page, not measured")
    parser.add_argument("--concurrency", type=int, default=8, help="wrk connections")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker")
    parser.add_argument("--patients", type=int, default=2_000)
    parser.add_argument("--sessions", type=int, default=20_000)
    parser.add_argument("--heavy-sessions", type=int, default=1_000)
    parser.add_argument("--search", default="son", help="the name fragment searched for")
    parser.add_argument("--results-dir", type=Path, default=BENCH / "results")
    return parser.parse_args(argv)


# --- tools and processes -------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from Debian, installed on first use (the benchmark needs a real load generator)."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found: installing it with apt-get (Debian package 'wrk')", flush=True)
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, env=env, check=False).returncode != 0:  # noqa: S603
        subprocess.run([*prefix, "apt-get", "update", "-q"], env=env, check=False)  # noqa: S603
        subprocess.run(install, env=env, check=True)  # noqa: S603
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing: apt-get install -y wrk")
    return found


def worker_class(args: argparse.Namespace) -> str:
    """sync for one thread per worker, as in production; gthread only when threads are asked for.

    A sync worker closes the connection after each answer, so every request goes to a free
    worker. gthread keeps wrk's connections alive on the worker that accepted them: with one
    thread each, a worker that happened to take most of the 8 connections served them in turn
    while the others idled (half the throughput, from one run to the next).
    """
    return "sync" if args.threads == 1 else "gthread"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(
    module: str, env: dict[str, str], args: argparse.Namespace, log: Path, ready_path: str
) -> Iterator[str]:
    """Serve `module` on a free loopback port; stop its process group on the way out."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        "--bind", f"{LOOPBACK}:{port}",
        "--workers", str(args.workers),
        "--threads", str(args.threads),
        "--worker-class", worker_class(args),
        "--timeout", "120",
        "--log-level", "warning",
        "--error-logfile", str(log),
        module,
    ]  # fmt: skip
    # A session of its own, so the master and its workers stop together by its process group.
    process = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603
    url = f"http://{LOOPBACK}:{port}"
    try:
        _wait_until_ready(process, url + ready_path, log)
        yield url
    finally:
        _stop(process)


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer {url} within 60 s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    except ProcessLookupError:
        pass


def _tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the app in process: migrate, seed, count queries --------------------------------------


def prepare_database(args: argparse.Namespace) -> tuple[Any, dict[str, Any], Any]:
    """Migrate with the real migrations and seed; returns the app, the seed summary, the seed."""
    import flask_migrate

    from bench.seed import seed_clinic
    from clinic import create_app

    app = create_app()
    with app.app_context():
        started = time.monotonic()
        flask_migrate.upgrade()
        migrate_seconds = time.monotonic() - started
        seeded = seed_clinic(args.patients, args.sessions, args.heavy_sessions)
    summary = {**asdict(seeded), "migrate_seconds": round(migrate_seconds, 2)}
    return app, summary, seeded


def monitoring_field_names(app: Any) -> list[str]:
    """The monitoring form's field names, from clinic/sessions/forms/monitoring.py itself."""
    from clinic.sessions.forms.monitoring import MonitoringForm

    with app.test_request_context():
        return [form_field.name for form_field in MonitoringForm(formdata=None)]


def monitoring_body(names: list[str], page_fields: dict[str, str]) -> dict[str, str]:
    """The POST body: the page's defaults (CSRF token, time) under a nurse's values.

    Should the chart give the form a prefix (as it does the score forms), the names follow it.
    """
    missing = sorted(set(MONITORING_VALUES) - set(names))
    if missing:
        raise RuntimeError(f"MonitoringForm has no field {', '.join(missing)}: update bench/run.py")
    marker = next((key for key in page_fields if key.endswith("heart_rate")), "heart_rate")
    prefix = marker.removesuffix("heart_rate")
    body = {prefix + name: page_fields.get(prefix + name, "") for name in names}
    body.update({prefix + name: value for name, value in MONITORING_VALUES.items()})
    body[prefix + "submission_key"] = SUBMISSION_KEY_PLACEHOLDER
    return body


def count_queries(app: Any, seeded: Any, search: str) -> dict[str, Any]:
    """Statements per request for each page, in process on the seeded database.

    The requests run outside any app context of ours: inside one, every test-client request
    would share one `g`, and Flask-WTF, which caches the CSRF token there, would never put the
    token in the new session.
    """
    from bench import baseline_app
    from bench.client import form_with_field
    from bench.queries import count_request, signed_in_client
    from bench.seed import STAFF_PASSWORD
    from clinic.extensions import db

    with app.app_context():
        engine = db.engine
    counts: dict[str, Any] = {}
    milliseconds: dict[str, float] = {}
    repeated: dict[str, Any] = {}
    client = signed_in_client(app, seeded.nurse_username, STAFF_PASSWORD)
    pages = {
        "chart": f"/sessions/{seeded.chart_session_id}",
        "chart_signed": f"/sessions/{seeded.signed_session_id}",
        "history_light": f"/patients/{seeded.light_patient_id}",
        "history": f"/patients/{seeded.heavy_patient_id}",
        # A year of the dispensing log: its statements do not grow with the draws.
        "register_dispensing_year": "/register/reports/dispensing?start="
        f"{date.today() - timedelta(days=365)}&end={date.today()}",
    }
    for name, path in pages.items():
        if _route_missing(app, path):
            continue
        log = count_request(engine, lambda path=path: client.get(path), 200)
        counts[name] = log.count
        milliseconds[name] = round(log.elapsed_ms, 1)
        repeated[name] = log.repeated()
    # The search is posted and answered at once: the app keeps it neither in a URL nor in the
    # session, so the counted request is the post.
    if not _route_missing(app, "/patients/", "POST"):
        search_body = {"q": search, "csrf_token": _csrf_token(client)}
        log = count_request(engine, lambda: client.post("/patients/", data=search_body), 200)
        counts["search"] = log.count
        milliseconds["search"] = round(log.elapsed_ms, 1)
        repeated["search"] = log.repeated()

    post_session = seeded.post_session_ids[-1]
    post_path = f"/sessions/{post_session}/monitoring"
    if not _route_missing(app, post_path, "POST"):
        page = client.get(f"/sessions/{post_session}").get_data(as_text=True)
        form = form_with_field(page, "heart_rate")
        if form is not None:
            body = monitoring_body(monitoring_field_names(app), form.fields)

            def post() -> Any:
                key = f"inprocess-{secrets.token_hex(8)}"
                data = {k: key if v == SUBMISSION_KEY_PLACEHOLDER else v for k, v in body.items()}
                return client.post(post_path, data=data)

            log = count_request(engine, post, 302)
            counts["monitoring_post"] = log.count
            milliseconds["monitoring_post"] = round(log.elapsed_ms, 1)
            repeated["monitoring_post"] = log.repeated()
    engine.dispose()  # the servers take over the database; on SQLite hold no connection

    with baseline_app.app.app_context():
        baseline_engine = baseline_app.db.engine
    baseline_client = baseline_app.app.test_client()
    log = count_request(baseline_engine, lambda: baseline_client.get("/"), 200)
    counts["baseline"], milliseconds["baseline"] = log.count, round(log.elapsed_ms, 1)
    baseline_engine.dispose()
    return {"per_request": counts, "ms_in_process": milliseconds, "repeated_statements": repeated}


def _route_missing(app: Any, path: str, method: str = "GET") -> bool:
    adapter = app.url_map.bind("localhost")
    try:
        adapter.match(urllib.parse.urlsplit(path).path, method=method)
    except Exception:  # NotFound or MethodNotAllowed: the route is not there (yet)
        return True
    return False


# --- load --------------------------------------------------------------------------------


def run_wrk(
    wrk: str,
    url: str,
    page: Page,
    cookie: str,
    seconds: int,
    args: argparse.Namespace,
    workdir: Path,
) -> dict[str, Any]:
    from bench.client import USER_AGENT

    extra: list[str] = [str(page.expected_status)]
    if page.post_fields:
        body_file = workdir / f"{page.name}.body"
        body_file.write_text(urllib.parse.urlencode(page.post_fields))
        extra += [str(body_file), ",".join(page.post_paths), secrets.token_hex(4)]
    command = [
        wrk,
        "--threads", str(min(args.wrk_threads, args.concurrency)),
        "--connections", str(args.concurrency),
        "--duration", f"{seconds}s",
        "--timeout", "30s",  # the long history under load must be measured, not cut off
        "--header", f"User-Agent: {USER_AGENT}",
        "--script", str(BENCH / "load.lua"),
    ]  # fmt: skip
    if cookie:
        command += ["--header", f"Cookie: {cookie}"]
    command += [url + page.path, "--", *extra]
    done = subprocess.run(  # noqa: S603
        command, capture_output=True, text=True, timeout=seconds + 120, check=False
    )
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))
    raise RuntimeError(f"wrk gave no result for {page.name}:\n{done.stdout}\n{done.stderr}")


def to_row(page: Page, result: dict[str, Any], queries: int | None) -> Row:
    detail = {
        "unexpected_status": result["unexpected_status"],
        "connect": result["connect"],
        "read": result["read"],
        "write": result["write"],
        "timeout": result["timeout"],
    }
    return Row(
        name=page.name,
        label=page.label,
        requests=result["requests"],
        requests_per_s=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p95_ms=result["p95_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        # Statuses above 399 are part of unexpected_status (load.lua counts every status but
        # the expected one), so they are not added twice.
        errors=sum(detail.values()),
        error_detail=detail,
        queries=queries,
    )


def count_monitoring_entries(app: Any, session_ids: list[int]) -> int:
    import sqlalchemy as sa

    from clinic.extensions import db
    from clinic.sessions.models import MonitoringEntry

    with app.app_context():
        total = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(MonitoringEntry)
            .where(MonitoringEntry.session_id.in_(session_ids))
        )
        db.session.rollback()
        db.engine.dispose()
    return int(total or 0)


# --- report ------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'page':<44} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'errors':>6} "
        f"{'ratio':>6} {'target':>7} {'SQL/req':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        if row.skipped:
            print(f"{row.label:<44} skipped: {row.skipped}")
            continue
        ratio = "" if row.ratio is None else f"{row.ratio:.2f}"
        queries = "" if row.queries is None else str(row.queries)
        verdict = ""
        if row.target is not None:
            verdict = f"{'PASS' if row.passed else 'FAIL'} {row.target:.1f}"
        print(
            f"{row.label:<44} {row.requests_per_s:>8.1f} {row.p50_ms:>8.1f} {row.p95_ms:>8.1f} "
            f"{row.errors:>6} {ratio:>6} {verdict:>7} {queries:>7}"
        )


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# --- the run -----------------------------------------------------------------------------


def _csrf_token(client: Any) -> str:
    from bench.client import form_with_field

    form = form_with_field(client.get("/patients/").get_data(as_text=True), "q")
    return form.fields.get("csrf_token", "") if form else ""


def build_pages(app: Any, seeded: Any, search: str) -> list[Page]:
    """The pages of issue 6, each skipped with a note when its route is not in the app yet."""
    post_paths = [f"/sessions/{sid}/monitoring" for sid in seeded.post_session_ids]
    pages = [
        Page("baseline", "baseline: SELECT 1 (bench/baseline_app.py)", "/", server="baseline"),
        Page("chart", "chart, session in progress", f"/sessions/{seeded.chart_session_id}"),
        Page(
            "history",
            f"history, patient with {seeded.heavy_patient_sessions} sessions",
            f"/patients/{seeded.heavy_patient_id}",
        ),
        Page(
            "search",
            f"search for '{search}'",
            "/patients/",
            post_paths=["/patients/"],
            post_fields={"pending": "the search and a CSRF token, read at run time"},
            search=search,
        ),
        Page(
            "monitoring_post",
            "monitoring post (302 counted as success)",
            post_paths[0],
            expected_status=302,
            post_paths=post_paths,
            post_fields={"pending": "read from the chart page at run time"},
        ),
    ]
    for page in pages:
        method = "POST" if page.post_paths else "GET"
        if page.server == "app" and _route_missing(app, page.path, method):
            page.skipped = f"no {method} route for {page.path.split('?')[0]} in the app yet"
    return pages


def post_fields_from_chart(app: Any, browser: Any, page: Page) -> dict[str, str]:
    """The monitoring form's body for this signed-in browser (its CSRF token, the page's time)."""
    from bench.client import form_with_field

    chart_path = page.post_paths[0].rsplit("/", 1)[0]
    _, html = browser.get(chart_path)
    form = form_with_field(html, "heart_rate")
    if form is None:
        raise RuntimeError(f"no monitoring form on {chart_path}")
    if urllib.parse.urlsplit(form.action).path not in ("", page.post_paths[0]):
        raise RuntimeError(f"the monitoring form posts to {form.action}, not {page.post_paths[0]}")
    return monitoring_body(monitoring_field_names(app), form.fields)


def _acknowledged(page: Page, result: dict[str, Any]) -> int:
    """Monitoring posts answered with their redirect (a search post stores nothing)."""
    if not page.post_fields or page.search:
        return 0
    return result["requests"] - result["unexpected_status"]


def _rate(rows: list[Row]) -> None:
    baseline = next((r for r in rows if r.name == "baseline" and not r.skipped), None)
    for row in rows:
        if row.skipped or baseline is None or baseline.requests_per_s == 0:
            continue
        row.ratio = row.requests_per_s / baseline.requests_per_s
        row.target = TARGETS.get(row.name)
        if row.target is not None:
            row.passed = row.ratio >= row.target


def print_queries(queries: dict[str, Any], seeded: Any) -> None:
    per_request, milliseconds = queries["per_request"], queries["ms_in_process"]
    print("SQL statements per request, and the time of one request alone (in process, test")
    print("client, same database):")
    labels = {
        "baseline": "baseline",
        "chart": "chart, session in progress (10 entries)",
        "chart_signed": "chart, signed session",
        "history_light": f"history, patient with {5} sessions",
        "history": f"history, patient with {seeded.heavy_patient_sessions} sessions",
        "search": "search",
        "monitoring_post": "monitoring post",
    }
    for name, label in labels.items():
        value = per_request.get(name)
        if value is None:
            print(f"  {label:<44} route missing")
        else:
            print(f"  {label:<44} {value:>3} statements {milliseconds[name]:>7.1f} ms")


def print_targets(rows: list[Row], per_request: dict[str, int]) -> None:
    print("\nTargets of issue 6 (reported, never fail the command):")
    for row in rows:
        if row.target is not None and row.ratio is not None:
            verdict = "PASS" if row.passed else "FAIL"
            print(f"  {verdict}  {row.name:<16} {row.ratio:.2f} of baseline (target {row.target})")
        elif row.name in TARGETS and row.skipped:
            print(f"  SKIP  {row.name:<16} {row.skipped}")
    light, heavy = per_request.get("history_light"), per_request.get("history")
    if light is not None and heavy is not None:
        verdict = "PASS" if light == heavy else "FAIL"
        print(f"  {verdict}  history queries: {light} for 5 sessions, {heavy} for the long history")


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    # Python ends on SIGTERM without unwinding; raising runs every `finally`, so the servers
    # stop and the database is dropped when make or CI is interrupted too.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    started = time.monotonic()
    wrk = ensure_wrk()
    host = machine()
    if host["load_average_at_start"][0] > 1.0:
        print(
            f"note: load average {host['load_average_at_start'][0]} before the run; other work "
            "on this machine takes CPU from the servers and lowers every figure",
            flush=True,
        )
    rows: list[Row] = []
    acknowledged_posts = 0
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clinic-bench-")))
        from bench.database import POSTGRES_ADMIN_URL, bench_database

        database_url = stack.enter_context(
            bench_database(args.db, workdir, args.pg_url or POSTGRES_ADMIN_URL)
        )
        env = {
            **os.environ,
            "CLINIC_ENV": "development",  # plain-HTTP cookies on loopback; keys given below
            "SECRET_KEY": secrets.token_hex(32),
            "AUDIT_KEY": secrets.token_hex(32),
            "DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT),
        }
        for name in ("CLINIC_ENV", "SECRET_KEY", "AUDIT_KEY", "DATABASE_URL"):
            os.environ[name] = env[name]  # the in-process app reads the same settings

        print(f"seeding a clinic on {args.db} ...", flush=True)
        app, seed_summary, seeded = prepare_database(args)
        print(
            f"seeded in {seeded.seconds:.1f} s: {seeded.patients} patients, {seeded.sessions} "
            f"sessions ({seeded.heavy_patient_sessions} for one patient), "
            f"{seeded.monitoring_entries} monitoring entries, {seeded.administrations} "
            f"administrations, {seeded.scores} scores",
            flush=True,
        )
        print("counting SQL statements per request in process ...", flush=True)
        queries = count_queries(app, seeded, args.search)
        per_request = queries["per_request"]
        pages = build_pages(app, seeded, args.search)
        entries_before = count_monitoring_entries(app, seeded.post_session_ids)

        from bench.client import Browser
        from bench.seed import STAFF_PASSWORD

        print(
            f"serving with gunicorn ({args.workers} workers x {args.threads} threads, "
            f"{worker_class(args)}); "
            f"wrk: {args.concurrency} connections, {args.warmup} s warm-up + {args.duration} s "
            "per page",
            flush=True,
        )
        with ExitStack() as servers:
            app_url = servers.enter_context(
                gunicorn("wsgi:app", env, args, workdir / "app.log", "/healthz")
            )
            baseline_url = servers.enter_context(
                gunicorn("bench.baseline_app:app", env, args, workdir / "baseline.log", "/")
            )
            for page in pages:
                if page.skipped:
                    rows.append(Row(page.name, page.label, skipped=page.skipped))
                    print(f"  {page.label}: skipped ({page.skipped})", flush=True)
                    continue
                url, cookie = baseline_url, ""
                if page.server == "app":
                    # A fresh sign-in per page: the idle limit never ends a long run half-way.
                    browser = Browser(app_url)
                    try:
                        browser.sign_in(seeded.nurse_username, STAFF_PASSWORD)
                    except urllib.error.HTTPError as error:
                        raise RuntimeError(
                            f"signing in before {page.label} got {error.code}; the app's log:\n"
                            f"{_tail(workdir / 'app.log')}"
                        ) from error
                    url = app_url
                    if page.search:
                        page.post_fields = browser.search_fields(page.search)
                    elif page.post_fields:
                        page.post_fields = post_fields_from_chart(app, browser, page)
                    cookie = browser.cookie_header
                if args.warmup > 0:
                    warm = run_wrk(wrk, url, page, cookie, args.warmup, args, workdir)
                    acknowledged_posts += _acknowledged(page, warm)
                result = run_wrk(wrk, url, page, cookie, args.duration, args, workdir)
                acknowledged_posts += _acknowledged(page, result)
                row = to_row(page, result, per_request.get(page.name))
                rows.append(row)
                print(
                    f"  {page.label}: {row.requests_per_s:.1f} req/s, "
                    f"p95 {row.p95_ms:.1f} ms, {row.errors} errors",
                    flush=True,
                )
        # Servers stopped: every post that was answered is committed; count what was stored.
        entries_after = count_monitoring_entries(app, seeded.post_session_ids)
        app_log = _tail(workdir / "app.log", 40)

    _rate(rows)
    print()
    print_table(rows)
    print()
    print_queries(queries, seeded)
    print_targets(rows, per_request)
    stored = entries_after - entries_before
    if acknowledged_posts:
        verdict = "ok" if stored >= acknowledged_posts else "MISSING ENTRIES"
        print(
            f"\nmonitoring posts: {acknowledged_posts} acknowledged with a redirect, "
            f"{stored} entries stored ({verdict}; posts cut off by the end of a wrk run may be "
            "stored without their answer being counted)"
        )
    report = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {**host, "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "seed": seed_summary,
        "rows": [asdict(row) for row in rows],
        "queries": queries,
        "monitoring_posts": {"acknowledged": acknowledged_posts, "stored": stored},
        "app_error_log_tail": app_log,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{args.db}.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"\nresults: {shown}\nwhole run: {report['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
