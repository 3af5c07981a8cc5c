"""procrastinate or pgqueuer for ``leadledger worker``: the measurements behind the choice.

Each library gets a fresh database on the server (created, then dropped), its own schema and a
stand-in domain table ``bench_executions``; every job is a no-op. Measured, medians of 3 rounds
in one run (docs/task-queue-choice.md reads them):

(a) enqueue from Python: one job per call (async, and sync: pgqueuer's only sync driver is
    psycopg, so both pgqueuer variants use it there), and 100 jobs per call;
(b) enqueue inside a transaction: from Python on the caller's own connection (INSERT a domain
    row + enqueue + COMMIT), and from SQL: a stored function that inserts the domain row and
    enqueues in the same statement, against the same function without the enqueue; a rolled
    back call must leave no job;
(c) drain: 300 jobs committed at once while 1 worker process with 1 or 4 worker tasks, or 4
    processes with 1 task each, wait idle; time from the commit until no job is left pending
    (worker tasks: procrastinate's ``concurrency``, pgqueuer's ``batch_size``, the jobs one
    dequeue claims and runs at once);
(d) wake-up latency: idle workers (1 and 4 processes) waiting on LISTEN/NOTIFY; each job is
    enqueued through the stored function (autocommit: the statement's return is the commit) and
    the no-op prints ``time.monotonic()`` when it starts; jobs are spaced 30-50 ms apart, 70 a
    round, or fewer when a round passes 5 s (slow wake-ups); p50/p99 over all rounds' jobs;
    then once, back to back: 200 jobs, each enqueued 0-5 ms after the previous one started
    (15 s at most): how many waited more than 1 s (a lost wake-up waits for the next poll);
(e) the cost of an empty poll: the library's own "fetch a job" call on an empty queue;
then, once (functional, not timed in rounds): SIGTERM during a 1 s job (graceful shutdown) and
SIGKILL during a job (is it run again, and after how long, by another worker).

Variants: procrastinate (psycopg 3 pool), pgqueuer with its psycopg 3 driver, and pgqueuer with
its asyncpg driver when asyncpg is installed. None of them is a leadledger dependency: install
them into the venv for this benchmark only.

    .venv/bin/pip install procrastinate pgqueuer asyncpg
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python -m bench.task_queue_choice

Worker processes are this module too: ``python -m bench.task_queue_choice --worker VARIANT …``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from bench.common import REPO, migrated_database, server_label, server_url

ROUNDS = 3
SINGLE_JOBS = 200  # (a) one job per call
BATCH_CALLS, BATCH_SIZE = 20, 100  # (a) 100 jobs per call
TXN_CALLS = 200  # (b)
DRAIN_JOBS = 300  # (c)
DRAIN_CONFIGS = ((1, 1), (1, 4), (4, 1))  # (processes, worker tasks per process)
LATENCY_CONFIGS = ((1, 1), (4, 1))  # idle fleets the latency is measured on
LATENCY_JOBS = 70  # (d) per round, so ~200 in all...
LATENCY_ROUND_SECONDS = 5.0  # ...unless a round takes longer than this (slow wake-ups)
BURST_JOBS, BURST_SECONDS = 200, 15.0  # (d) back to back, once, on the 1-process fleet
POLLS = 100  # (e) per round
DRAIN_TIMEOUT = 60.0
TASK = "noop"
ORG = 1

VARIANTS = ("procrastinate", "pgqueuer-psycopg", "pgqueuer-asyncpg")
LABELS = {
    "procrastinate": "procrastinate",
    "pgqueuer-psycopg": "pgqueuer (psycopg driver)",
    "pgqueuer-asyncpg": "pgqueuer (asyncpg driver)",
}

DOMAIN_SQL = """
CREATE TABLE bench_executions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The baseline: the domain write alone, in the shape of a leadledger function.
CREATE FUNCTION bench_create_execution_only(p_org_id bigint, p_key bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE v_id bigint;
BEGIN
    INSERT INTO public.bench_executions (org_id) VALUES (p_org_id) RETURNING id INTO v_id;
    RETURN v_id;
END $$;
"""

# The leadledger shape: a SECURITY DEFINER function with a pinned search_path writes the domain
# row and enqueues through a helper. The helper is needed with both libraries: their SQL (and,
# for procrastinate, the triggers its INSERT fires) names tables without a schema, so it only
# runs with the library's schema on the search_path.
CREATE_EXECUTION = """
CREATE FUNCTION bench_create_execution(p_org_id bigint, p_key bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE v_id bigint;
BEGIN
    INSERT INTO public.bench_executions (org_id) VALUES (p_org_id) RETURNING id INTO v_id;
    PERFORM public.bench_enqueue_noop(p_key);
    RETURN v_id;
END $$;
"""

# procrastinate: its own SQL function (the one its Python defer calls), in the caller's transaction.
PROCRASTINATE_SQL = (
    """
CREATE FUNCTION bench_enqueue_noop(p_key bigint) RETURNS bigint
LANGUAGE sql SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(
        'default', 'noop', 0, NULL, NULL,
        CASE WHEN p_key IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('k', p_key) END,
        NULL
    )]::procrastinate_job_to_defer_v1[]))
$$;
"""
    + CREATE_EXECUTION
)

# pgqueuer ships no SQL enqueue function; its docs (integrations/postgrest.md) give this one to
# copy into your own migrations (the INSERT into pgqueuer plus its log row). Copied as given,
# plus the pinned search_path.
PGQUEUER_SQL = (
    """
CREATE FUNCTION fn_pgqueuer_enqueue(
    entrypoint text, payload bytea DEFAULT NULL, priority int DEFAULT 0,
    execute_after interval DEFAULT '0'::interval, dedupe_key text DEFAULT NULL,
    headers jsonb DEFAULT NULL
) RETURNS bigint SET search_path = public, pg_catalog, pg_temp AS $$
DECLARE _job_id bigint;
BEGIN
    INSERT INTO pgqueuer (priority, entrypoint, payload, execute_after, dedupe_key, headers, status)
    VALUES (priority, entrypoint, payload, NOW() + execute_after, dedupe_key, headers, 'queued')
    RETURNING id INTO _job_id;
    INSERT INTO pgqueuer_log (job_id, status, entrypoint, priority)
    VALUES (_job_id, 'queued', entrypoint, priority);
    RETURN _job_id;
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION bench_enqueue_noop(p_key bigint) RETURNS bigint
LANGUAGE sql SET search_path = public, pg_catalog, pg_temp AS $$
    SELECT fn_pgqueuer_enqueue('noop',
        CASE WHEN p_key IS NULL THEN NULL
             ELSE convert_to(json_build_object('k', p_key)::text, 'UTF8') END)
$$;
"""
    + CREATE_EXECUTION
)

PENDING = {
    "procrastinate": "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
    "pgqueuer": "SELECT count(*) FROM pgqueuer WHERE status IN ('queued', 'picked')",
}
JOBS = {
    "procrastinate": "SELECT count(*) FROM procrastinate_jobs",
    "pgqueuer": "SELECT count(*) FROM pgqueuer",
}
TRUNCATE = {
    "procrastinate": "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers",
    "pgqueuer": "TRUNCATE pgqueuer, pgqueuer_log, pgqueuer_statistics",
}


def family(variant: str) -> str:
    return "procrastinate" if variant == "procrastinate" else "pgqueuer"


def job_args(key: int | None = None, sleep: float = 0.0) -> dict[str, Any]:
    args: dict[str, Any] = {}
    if key is not None:
        args["k"] = key
    if sleep:
        args["sleep"] = sleep
    return args


def announce_start(args: dict[str, Any]) -> Awaitable[None] | None:
    """What the no-op does: report its start (for timed jobs) and sleep when asked to."""
    if "k" in args:
        print(f"S {args['k']} {os.getpid()} {time.monotonic():.6f}", flush=True)
    if args.get("sleep"):
        return asyncio.sleep(float(args["sleep"]))
    return None


# ---------------------------------------------------------------------------------------------
# worker processes


def run_worker(variant: str, dsn: str, concurrency: int, heartbeat: float | None) -> None:
    if variant == "procrastinate":
        asyncio.run(procrastinate_worker(dsn, concurrency, heartbeat))
    else:
        asyncio.run(pgqueuer_worker(variant, dsn, concurrency, heartbeat))


def procrastinate_app(dsn: str, *, sync: bool = False) -> Any:
    import procrastinate

    connector: Any = (
        procrastinate.SyncPsycopgConnector(conninfo=dsn)
        if sync
        else procrastinate.PsycopgConnector(conninfo=dsn)
    )
    app = procrastinate.App(connector=connector)

    @app.task(name=TASK, queue="default")
    async def noop(**args: Any) -> None:
        pending = announce_start(args)
        if pending is not None:
            await pending

    return app


async def procrastinate_worker(dsn: str, concurrency: int, heartbeat: float | None) -> None:
    app = procrastinate_app(dsn)
    options: dict[str, Any] = {"concurrency": concurrency, "shutdown_graceful_timeout": 30.0}
    if heartbeat is not None:
        options["update_heartbeat_interval"] = heartbeat
    async with app.open_async():
        print("ready", flush=True)
        await app.run_worker_async(**options)  # SIGTERM / SIGINT: graceful stop


async def pgqueuer_connect(variant: str, dsn: str) -> tuple[Any, Any]:
    """A new connection (autocommit, as pgqueuer requires) and a pgqueuer driver on it."""
    if variant == "pgqueuer-asyncpg":
        import asyncpg
        from pgqueuer.db import AsyncpgDriver

        params = conninfo_to_dict(dsn)  # asyncpg takes no libpq conninfo string
        aconn = await asyncpg.connect(
            host=params.get("host"),
            port=params.get("port"),
            user=params.get("user"),
            password=params.get("password"),
            database=params.get("dbname"),
        )
        return aconn, AsyncpgDriver(aconn)
    from pgqueuer.db import PsycopgDriver

    pconn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
    return pconn, PsycopgDriver(pconn)


async def pgqueuer_worker(variant: str, dsn: str, concurrency: int, heartbeat: float | None) -> None:
    from pgqueuer import PgQueuer
    from pgqueuer.models import Job

    conn, driver = await pgqueuer_connect(variant, dsn)
    pgq = PgQueuer(driver)

    @pgq.entrypoint(TASK)
    async def noop(job: Job) -> None:
        pending = announce_start(json.loads(job.payload) if job.payload else {})
        if pending is not None:
            await pending

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, pgq.shutdown.set)  # pgq run (the CLI) does the same
    options: dict[str, Any] = {"batch_size": concurrency}
    if heartbeat is not None:
        options["heartbeat_timeout"] = timedelta(seconds=heartbeat)
        options["dequeue_timeout"] = timedelta(seconds=heartbeat)
    print("ready", flush=True)
    try:
        await pgq.run(**options)
    finally:
        await conn.close()


@dataclass
class Fleet:
    """Worker processes of one variant, and the job starts they report on stdout."""

    variant: str
    dsn: str
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)
    starts: dict[int, list[tuple[int, float]]] = field(default_factory=lambda: defaultdict(list))
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self, processes: int, concurrency: int, heartbeat: float | None = None) -> None:
        extra = [] if heartbeat is None else ["--heartbeat", str(heartbeat)]
        command = [sys.executable, "-c", "from bench.task_queue_choice import cli; cli()"]
        command += ["--worker", self.variant, "--dsn", self.dsn, "--concurrency", str(concurrency), *extra]
        started = [
            await asyncio.create_subprocess_exec(*command, cwd=REPO, stdout=asyncio.subprocess.PIPE)
            for _ in range(processes)
        ]
        self.procs.extend(started)
        for proc in started:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
            if line.strip() != b"ready":
                raise RuntimeError(f"worker did not start: {line!r}")
            self.readers.append(asyncio.create_task(self._read(proc)))

    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            parts = raw.decode().split()
            if len(parts) == 4 and parts[0] == "S":
                async with self.changed:
                    self.starts[int(parts[1])].append((int(parts[2]), float(parts[3])))
                    self.changed.notify_all()

    async def wait_start(self, key: int, count: int = 1, within: float = 30.0) -> list[tuple[int, float]]:
        async def seen() -> list[tuple[int, float]]:
            async with self.changed:
                await self.changed.wait_for(lambda: len(self.starts[key]) >= count)
                return self.starts[key]

        return await asyncio.wait_for(seen(), within)

    async def stop(self, within: float = 15.0) -> None:
        for proc in self.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                await asyncio.wait_for(proc.wait(), within)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        for reader in self.readers:
            reader.cancel()
        self.procs.clear()
        self.readers.clear()


# ---------------------------------------------------------------------------------------------
# the libraries behind one interface


class Library:
    """How the parent process enqueues and polls with one variant."""

    variant: str

    def __init__(self, variant: str, dsn: str) -> None:
        self.variant = variant
        self.family = family(variant)
        self.dsn = dsn

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue_one(self, args: dict[str, Any]) -> None: ...
    async def enqueue_many(self, args: list[dict[str, Any]]) -> None: ...
    def enqueue_one_sync(self, args: dict[str, Any]) -> None: ...
    async def enqueue_in_transaction(self, conn: Any, args: dict[str, Any], enqueue: bool = True) -> None: ...
    def transaction_connection(self) -> Any: ...
    async def empty_polls(self) -> dict[str, Callable[[], Awaitable[object]]]:
        return {}


class Procrastinate(Library):
    async def open(self) -> None:
        self.app = procrastinate_app(self.dsn)
        await self.app.open_async()
        await self.app.schema_manager.apply_schema_async()
        self.sync_app = procrastinate_app(self.dsn, sync=True)
        self.sync_app.open()
        self.task = self.app.tasks[TASK]
        self.sync_task = self.sync_app.tasks[TASK]
        self.raw = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)

    async def close(self) -> None:
        await self.raw.close()
        self.sync_app.close()
        await self.app.close_async()

    async def enqueue_one(self, args: dict[str, Any]) -> None:
        await self.task.defer_async(**args)

    async def enqueue_many(self, args: list[dict[str, Any]]) -> None:
        await self.task.batch_defer_async(*args)

    def enqueue_one_sync(self, args: dict[str, Any]) -> None:
        self.sync_task.defer(**args)

    @contextlib.asynccontextmanager
    async def transaction_connection(self) -> AsyncIterator[Any]:
        async with await psycopg.AsyncConnection.connect(self.dsn) as conn:  # not autocommit
            yield conn

    async def enqueue_in_transaction(self, conn: Any, args: dict[str, Any], enqueue: bool = True) -> None:
        async with conn.transaction():
            await conn.execute("INSERT INTO bench_executions (org_id) VALUES (%s)", [ORG])
            if enqueue:
                await self.task.configure(connection=conn).defer_async(**args)

    async def empty_polls(self) -> dict[str, Callable[[], Awaitable[object]]]:
        manager = self.app.job_manager
        worker_id = await manager.register_worker()
        fetch = "SELECT * FROM procrastinate_fetch_job_v2(NULL, %s)"
        return {
            "fetch one job (`JobManager.fetch_job`)": lambda: manager.fetch_job(None, worker_id),
            "the same SQL (`procrastinate_fetch_job_v2`) on a plain connection": lambda: self.raw.execute(
                fetch, [worker_id]
            ),
        }


class Pgqueuer(Library):
    async def open(self) -> None:
        from pgqueuer.queries import Queries

        self.conn, driver = await pgqueuer_connect(self.variant, self.dsn)
        self.queries = Queries(driver)
        await self.queries.install()
        self.sync_conn = psycopg.connect(self.dsn, autocommit=True)
        from pgqueuer.db import SyncPsycopgDriver
        from pgqueuer.queries import SyncQueries

        self.sync_queries = SyncQueries(SyncPsycopgDriver(self.sync_conn))

    async def close(self) -> None:
        self.sync_conn.close()
        await self.conn.close()

    @staticmethod
    def payload(args: dict[str, Any]) -> bytes | None:
        return json.dumps(args).encode() if args else None

    async def enqueue_one(self, args: dict[str, Any]) -> None:
        await self.queries.enqueue(TASK, self.payload(args))

    async def enqueue_many(self, args: list[dict[str, Any]]) -> None:
        await self.queries.enqueue([TASK] * len(args), [self.payload(a) for a in args], [0] * len(args))

    def enqueue_one_sync(self, args: dict[str, Any]) -> None:
        self.sync_queries.enqueue(TASK, self.payload(args))

    @contextlib.asynccontextmanager
    async def transaction_connection(self) -> AsyncIterator[Any]:
        from pgqueuer.queries import Queries

        conn, driver = await pgqueuer_connect(self.variant, self.dsn)
        try:
            yield (conn, Queries(driver))
        finally:
            await conn.close()

    async def enqueue_in_transaction(self, conn: Any, args: dict[str, Any], enqueue: bool = True) -> None:
        raw, queries = conn
        # The documented way (README "Enqueue inside a transaction"): a transaction block on
        # the connection the Queries object uses, which pgqueuer otherwise wants in autocommit.
        async with raw.transaction():
            if self.variant == "pgqueuer-psycopg":
                await raw.execute("INSERT INTO bench_executions (org_id) VALUES (%s)", [ORG])
            else:
                await raw.execute("INSERT INTO bench_executions (org_id) VALUES ($1)", ORG)
            if enqueue:
                await queries.enqueue(TASK, self.payload(args))

    async def empty_polls(self) -> dict[str, Callable[[], Awaitable[object]]]:
        from pgqueuer.ports.repository import EntrypointExecutionParameter
        from pgqueuer.types import QueueEntrypoint, QueueManagerId

        entrypoint = QueueEntrypoint(TASK)
        manager = QueueManagerId(uuid.uuid4())
        queries = self.queries

        def dequeue(limit: int) -> Callable[[], Awaitable[object]]:
            return lambda: queries.dequeue(
                batch_size=10,
                entrypoints={entrypoint: EntrypointExecutionParameter(concurrency_limit=limit)},
                queue_manager_id=manager,
                global_concurrency_limit=None,
                heartbeat_timeout=timedelta(seconds=30),
            )

        async def idle_cycle() -> None:
            # what QueueManager.run does when a dequeue came back empty, before it waits again
            await dequeue(0)()
            await queries.eligible_queued_work([entrypoint])
            await queries.next_deferred_eta([entrypoint])
            await queries.queued_work([entrypoint])

        return {
            "fetch up to 10 jobs (dequeue, no limit)": dequeue(0),
            "the same with `concurrency_limit=4` on the entrypoint": dequeue(4),
            "one idle loop turn (dequeue + the 3 probes `run` sends after an empty one)": idle_cycle,
        }


def library(variant: str, dsn: str) -> Library:
    return Procrastinate(variant, dsn) if variant == "procrastinate" else Pgqueuer(variant, dsn)


# ---------------------------------------------------------------------------------------------
# the measurements


@dataclass
class Results:
    rate: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))  # jobs/s
    ms: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    latency: dict[str, dict[str, list[float]]] = field(default_factory=lambda: defaultdict(dict))
    notes: dict[str, dict[str, str]] = field(default_factory=lambda: defaultdict(dict))
    ratio: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))


@dataclass
class Subject:
    """One variant under test: its library, its database, an autocommit admin connection."""

    lib: Library
    admin: psycopg.AsyncConnection[Any]
    samples: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    fleet: Fleet | None = None

    @property
    def variant(self) -> str:
        return self.lib.variant

    async def truncate(self) -> None:
        await self.admin.execute(TRUNCATE[self.lib.family])

    async def count(self, query: str) -> int:
        row = await (await self.admin.execute(query)).fetchone()
        assert row is not None
        return int(row[0])


def rotated(subjects: list[Subject], round_no: int) -> list[Subject]:
    """Each round starts with another variant, so drift does not always hit the same one."""
    k = round_no % len(subjects)
    return subjects[k:] + subjects[:k]


async def enqueue_round(s: Subject, tconn: Any) -> None:
    lib = s.lib
    started = time.perf_counter()
    for _ in range(SINGLE_JOBS):
        await lib.enqueue_one({})
    s.samples["single"].append(SINGLE_JOBS / (time.perf_counter() - started))

    started = time.perf_counter()
    for _ in range(SINGLE_JOBS):
        lib.enqueue_one_sync({})  # blocks the loop; nothing else runs in this phase
    s.samples["sync"].append(SINGLE_JOBS / (time.perf_counter() - started))

    started = time.perf_counter()
    for _ in range(BATCH_CALLS):
        await lib.enqueue_many([{}] * BATCH_SIZE)
    s.samples["batch"].append(BATCH_CALLS * BATCH_SIZE / (time.perf_counter() - started))

    # (b): each call alternates with its baseline (the same transaction without the enqueue),
    # per-call medians, so that drift and fsync stalls hit both alike
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "txn": lambda: lib.enqueue_in_transaction(tconn, {}),
        "txn_base": lambda: lib.enqueue_in_transaction(tconn, {}, enqueue=False),
        "sql": lambda: s.admin.execute("SELECT bench_create_execution(%s, NULL)", [ORG]),
        "sql_base": lambda: s.admin.execute("SELECT bench_create_execution_only(%s, NULL)", [ORG]),
    }
    per_call: dict[str, list[float]] = defaultdict(list)
    for i in range(TXN_CALLS):
        for pair in (("txn", "txn_base"), ("sql", "sql_base")):
            for name in pair if i % 2 else reversed(pair):
                started = time.perf_counter()
                await calls[name]()
                per_call[name].append(time.perf_counter() - started)
    for name, values in per_call.items():
        s.samples[name].append(statistics.median(values))
    s.samples["txn_delta"].append(s.samples["txn"][-1] - s.samples["txn_base"][-1])
    s.samples["sql_delta"].append(s.samples["sql"][-1] - s.samples["sql_base"][-1])

    expected = SINGLE_JOBS * 2 + BATCH_CALLS * BATCH_SIZE + TXN_CALLS * 2
    got = await s.count(JOBS[lib.family])
    if got != expected:
        raise RuntimeError(f"{s.variant}: {got} jobs enqueued, expected {expected}")
    await s.truncate()


async def rollback_check(s: Subject) -> str:
    """The domain row and the job commit or roll back together."""
    before = await s.count(JOBS[s.lib.family])
    async with s.admin.transaction(force_rollback=True):
        await s.admin.execute("SELECT bench_create_execution(%s, NULL)", [ORG])
        inside = await s.count(JOBS[s.lib.family])
    after = await s.count(JOBS[s.lib.family])
    return "yes" if inside == before + 1 and after == before else "**no**"


async def measure_enqueue(subjects: list[Subject], out: Results) -> None:
    async with contextlib.AsyncExitStack() as stack:
        tconns = {
            s.variant: await stack.enter_async_context(s.lib.transaction_connection()) for s in subjects
        }
        for round_no in range(ROUNDS):
            for s in rotated(subjects, round_no):
                await enqueue_round(s, tconns[s.variant])
    for s in subjects:
        for name in ("single", "sync", "batch"):
            out.rate[s.variant][f"enqueue_{name}"] = statistics.median(s.samples[name])
        for name in ("txn", "txn_base", "txn_delta", "sql", "sql_base", "sql_delta"):
            out.ms[s.variant][f"enqueue_{name}"] = statistics.median(s.samples[name]) * 1000
    base = subjects[0].samples
    for s in subjects:  # per-round ratios to the first variant, then their median
        for name in ("single", "sync", "batch"):
            ratios = [x / b for x, b in zip(s.samples[name], base[name], strict=True)]
            out.ratio[s.variant][f"enqueue_{name}"] = statistics.median(ratios)
        out.notes[s.variant]["rollback"] = await rollback_check(s)


async def measure_empty_poll(subjects: list[Subject], out: Results) -> None:
    polls: dict[str, dict[str, Callable[[], Awaitable[object]]]] = {}
    for s in subjects:
        await s.truncate()
        polls[s.variant] = await s.lib.empty_polls()
        for poll in polls[s.variant].values():
            await poll()  # warm: plans, caches
    per_round: dict[tuple[str, str], list[float]] = defaultdict(list)
    for round_no in range(ROUNDS):
        for s in rotated(subjects, round_no):
            for name, poll in polls[s.variant].items():
                samples = []
                for _ in range(POLLS):
                    started = time.perf_counter()
                    await poll()
                    samples.append(time.perf_counter() - started)
                per_round[s.variant, name].append(statistics.median(samples))
    for (variant, name), values in per_round.items():
        out.ms[variant][f"poll: {name}"] = statistics.median(values) * 1000


async def warm_up(s: Subject, processes: int) -> None:
    assert s.fleet is not None
    keys = list(range(-1, -1 - 4 * processes, -1))
    await s.lib.enqueue_many([job_args(k) for k in keys])
    for k in keys:
        await s.fleet.wait_start(k)


async def drain_round(s: Subject) -> float:
    await s.truncate()
    await asyncio.sleep(0.3)  # workers idle again (pgqueuer's trigger notifies on TRUNCATE too)
    await s.lib.enqueue_many([{}] * DRAIN_JOBS)  # one statement, one commit
    committed = time.perf_counter()
    while await s.count(PENDING[s.lib.family]):
        if time.perf_counter() - committed > DRAIN_TIMEOUT:
            raise RuntimeError(f"{s.variant}: drain did not finish in {DRAIN_TIMEOUT} s")
        await asyncio.sleep(0.01)
    return DRAIN_JOBS / (time.perf_counter() - committed)


async def latency_round(
    s: Subject, first_key: int, jobs: int, within: float, gap: tuple[float, float]
) -> list[float]:
    """Enqueue ``jobs`` one at a time, each ``gap`` seconds after the previous one started."""
    assert s.fleet is not None
    samples: list[float] = []
    round_started = time.monotonic()
    for key in range(first_key, first_key + jobs):
        await s.admin.execute("SELECT bench_create_execution(%s, %s)", [ORG, key])
        committed = time.monotonic()  # autocommit: the statement returned, so its commit is done
        (_pid, started), *_ = await s.fleet.wait_start(key)
        samples.append(started - committed)
        if time.monotonic() - round_started > within:
            break
        await asyncio.sleep(random.uniform(*gap))
    return samples


async def measure_workers(subjects: list[Subject], out: Results) -> None:
    for processes, tasks in DRAIN_CONFIGS:
        config = f"{processes}x{tasks}"
        try:
            for s in subjects:
                await s.truncate()
                s.fleet = Fleet(s.variant, s.lib.dsn)
            await asyncio.gather(*(s.fleet.start(processes, tasks) for s in subjects if s.fleet))
            for s in subjects:
                await warm_up(s, processes)
            await asyncio.sleep(0.5)
            rates: dict[str, list[float]] = defaultdict(list)
            for round_no in range(ROUNDS):
                for s in rotated(subjects, round_no):
                    rates[s.variant].append(await drain_round(s))
            baseline = rates[subjects[0].variant]
            for s in subjects:
                out.rate[s.variant][f"drain {config}"] = statistics.median(rates[s.variant])
                ratios = [x / b for x, b in zip(rates[s.variant], baseline, strict=True)]
                out.ratio[s.variant][f"drain {config}"] = statistics.median(ratios)
            if (processes, tasks) in LATENCY_CONFIGS:
                for s in subjects:
                    await s.truncate()
                await asyncio.sleep(0.5)
                for round_no in range(ROUNDS):
                    for s in rotated(subjects, round_no):
                        first = 1_000_000 * processes + 1000 * round_no
                        samples = await latency_round(
                            s, first, LATENCY_JOBS, LATENCY_ROUND_SECONDS, (0.03, 0.05)
                        )
                        out.latency[s.variant].setdefault(str(processes), []).extend(samples)
                if processes == 1:  # then back to back: does a wake-up get lost?
                    for s in subjects:
                        samples = await latency_round(s, 9_000_000, BURST_JOBS, BURST_SECONDS, (0.0, 0.005))
                        out.latency[s.variant]["burst"] = samples

            async def timed_stop(s: Subject, key: str) -> None:
                assert s.fleet is not None
                signalled = time.perf_counter()
                await s.fleet.stop()
                out.ms[s.variant][key] = (time.perf_counter() - signalled) * 1000

            await asyncio.gather(*(timed_stop(s, f"stop {config}") for s in subjects))
        finally:
            for s in subjects:
                if s.fleet is not None:
                    await s.fleet.stop()
                    s.fleet = None


async def shutdown_and_crash(s: Subject, out: Results) -> None:
    """SIGTERM during a 1 s job; SIGKILL during a job. Short heartbeats so it fits the run."""
    v, lib = s.variant, s.lib
    await s.truncate()
    fleet = s.fleet = Fleet(v, lib.dsn)
    heartbeat = 1.0 if v == "procrastinate" else 3.0  # procrastinate: beat interval; pgqueuer: timeout
    await fleet.start(3, 1, heartbeat=heartbeat)
    try:
        await warm_up(s, 3)
        # graceful: SIGTERM the process running a 1 s job
        await lib.enqueue_one(job_args(7, sleep=1.0))
        ((pid, _),) = await fleet.wait_start(7)
        proc = next(p for p in fleet.procs if p.pid == pid)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 30)
        exited = time.monotonic() - signalled
        await asyncio.sleep(0.5)
        if lib.family == "procrastinate":
            row = await (
                await s.admin.execute("SELECT status::text FROM procrastinate_jobs WHERE args->>'k' = '7'")
            ).fetchone()
            state = row[0] if row else "missing"
        else:
            left = await s.count("SELECT count(*) FROM pgqueuer")
            row = await (
                await s.admin.execute(
                    "SELECT status::text FROM pgqueuer_log WHERE status NOT IN ('queued', 'picked')"
                    " ORDER BY id DESC LIMIT 1"
                )
            ).fetchone()
            state = (row[0] if row else "not logged") + ("" if not left else f", {left} left in queue")
        out.notes[v]["sigterm"] = f"job finished ({state}), process exited {exited:.1f} s after SIGTERM"

        # crash: SIGKILL the process running a long job; does another worker run it again?
        await lib.enqueue_one(job_args(9, sleep=600.0))
        ((pid, _),) = await fleet.wait_start(9)
        proc = next(p for p in fleet.procs if p.pid == pid)
        proc.kill()
        killed = time.monotonic()
        await proc.wait()
        recovered = asyncio.create_task(fleet.wait_start(9, count=2, within=45.0))
        if isinstance(lib, Procrastinate):
            # procrastinate does not retry stalled jobs by itself: its docs' recipe is a periodic
            # task doing this; here the parent runs the recipe every 0.5 s.
            manager = lib.app.job_manager
            while not recovered.done():
                for job in await manager.get_stalled_jobs(seconds_since_heartbeat=3):
                    await manager.retry_job(job)
                await asyncio.wait({recovered}, timeout=0.5)
        try:
            starts = await recovered
            how = "run again by another worker" if starts[1][0] != pid else "run again"
            out.notes[v]["sigkill"] = f"{how} {starts[1][1] - killed:.1f} s after SIGKILL"
        except TimeoutError:
            out.notes[v]["sigkill"] = "**not run again within 45 s**"
    finally:
        for proc in fleet.procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        for reader in fleet.readers:
            reader.cancel()
        s.fleet = None


async def measure_all(dsns: dict[str, str], out: Results) -> None:
    subjects: list[Subject] = []
    try:
        for variant, dsn in dsns.items():
            lib = library(variant, dsn)
            await lib.open()
            admin = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            subjects.append(Subject(lib, admin))
            await admin.execute(DOMAIN_SQL)
            await admin.execute(PROCRASTINATE_SQL if lib.family == "procrastinate" else PGQUEUER_SQL)
        phases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("enqueue", lambda: measure_enqueue(subjects, out)),
            ("empty poll", lambda: measure_empty_poll(subjects, out)),
            ("drain and latency", lambda: measure_workers(subjects, out)),
        ]
        for name, phase in phases:
            began = time.perf_counter()
            await phase()
            print(f"# {name}: {time.perf_counter() - began:.0f} s", file=sys.stderr)
        for s in subjects:
            await shutdown_and_crash(s, out)
    finally:
        for s in subjects:
            await s.admin.close()
            await s.lib.close()


# ---------------------------------------------------------------------------------------------
# report


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def plural(n: int, word: str, suffix: str) -> str:
    return f"{n} {word}{suffix if n > 1 else ''}"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))] * 1000


def report(variants: list[str], out: Results) -> None:
    head = "| | " + " | ".join(LABELS[v] for v in variants) + " |"
    rule = "| --- |" + " ---: |" * len(variants)

    def row(label: str, values: list[str]) -> None:
        print(f"| {label} | " + " | ".join(values) + " |")

    def rated(key: str) -> list[str]:
        """jobs/s, and the median of the per-round ratios to the first column."""
        return [f"{fmt(out.rate[v].get(key))} ({out.ratio[v].get(key, 0):.2f}x)" for v in variants]

    def ms(key: str) -> list[str]:
        return [fmt(out.ms[v].get(key), 2) for v in variants]

    print("\n### (a, b) Enqueue\n")
    print(head)
    print(rule)
    row("Python async, one job per call: jobs/s (vs first column, per round)", rated("enqueue_single"))
    row("Python sync, one job per call: jobs/s", rated("enqueue_sync"))
    row(f"Python async, {BATCH_SIZE} jobs per call: jobs/s", rated("enqueue_batch"))
    row("caller's transaction from Python: INSERT domain row + enqueue + COMMIT, ms", ms("enqueue_txn"))
    row("the same transaction without the enqueue, ms", ms("enqueue_txn_base"))
    row("**enqueue's cost in the caller's transaction, ms**", ms("enqueue_txn_delta"))
    row(
        "SQL: stored function INSERTs domain row + enqueues (one statement, autocommit), ms",
        ms("enqueue_sql"),
    )
    row("the same function without the enqueue, ms", ms("enqueue_sql_base"))
    row("**enqueue's cost inside the function, ms**", ms("enqueue_sql_delta"))
    row(
        "rolled back with the caller's transaction (no job left)",
        [out.notes[v].get("rollback", "-") for v in variants],
    )

    print(f"\n### (c) Drain: {DRAIN_JOBS:,} no-op jobs committed at once, idle workers, jobs/s\n")
    print(head)
    print(rule)
    for processes, tasks in DRAIN_CONFIGS:
        label = f"{plural(processes, 'process', 'es')} x {plural(tasks, 'worker task', 's')} each"
        row(label, rated(f"drain {processes}x{tasks}"))

    print("\n### (d) Wake-up latency: commit of the enqueue → the job starts, idle workers, ms\n")
    print("| workers | " + " | ".join(LABELS[v] for v in variants) + " |")
    print("| --- |" + " ---: |" * len(variants))
    for processes, _ in LATENCY_CONFIGS:
        key = str(processes)
        for stat, q in (("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("max", 100.0)):
            row(
                f"{processes} idle process{'es' if processes > 1 else ''}, {stat}",
                [fmt(pct(out.latency[v][key], q), 1) if key in out.latency[v] else "-" for v in variants],
            )
        row(
            f"{processes} idle process{'es' if processes > 1 else ''}, jobs measured (waited > 1 s)",
            [
                f"{len(out.latency[v].get(key, []))} ({sum(x > 1.0 for x in out.latency[v].get(key, []))})"
                for v in variants
            ],
        )

    burst = [out.latency[v].get("burst", []) for v in variants]
    row(
        "back to back (enqueued 0-5 ms after the previous job started): waited > 1 s",
        [f"{sum(x > 1.0 for x in b)} of {len(b)}" for b in burst],
    )
    row("back to back: max", [fmt(max(b) * 1000, 1) if b else "-" for b in burst])

    print("\n### (e) An empty poll (the library's own fetch call, empty queue), ms\n")
    print("| library | call | median ms |")
    print("| --- | --- | ---: |")
    for v in variants:
        for name, value in out.ms[v].items():
            if name.startswith("poll: "):
                print(f"| {LABELS[v]} | {name[6:]} | {value:.3f} |")

    print(
        "\n### Shutdown and crash (once each, 3 worker processes; procrastinate: heartbeat every 1 s,"
        " its docs' stalled-job recipe (3 s) run every 0.5 s; pgqueuer: `heartbeat_timeout` ="
        " `dequeue_timeout` = 3 s)\n"
    )
    print(head.replace("| |", "| event |"))
    print(rule)
    row("SIGTERM while a 1 s job runs", [out.notes[v].get("sigterm", "-") for v in variants])
    row("SIGKILL while a job runs", [out.notes[v].get("sigkill", "-") for v in variants])
    row("SIGTERM an idle fleet of 4 → all exited, ms", [fmt(out.ms[v].get("stop 4x1")) for v in variants])


def versions(variants: list[str]) -> str:
    from importlib.metadata import version

    names = ["procrastinate", "pgqueuer", "psycopg"] + (["asyncpg"] if "pgqueuer-asyncpg" in variants else [])
    return ", ".join(f"{n} {version(n)}" for n in names)


def available_variants() -> list[str]:
    try:
        import pgqueuer  # noqa: F401
        import procrastinate  # noqa: F401
    except ImportError as exc:
        raise SystemExit(f"{exc}: run `.venv/bin/pip install procrastinate pgqueuer asyncpg` first") from exc
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return ["procrastinate", "pgqueuer-psycopg"]
    return list(VARIANTS)


def commit_ms(dsn: str) -> float:
    """Median time of a one-row INSERT and its COMMIT (a WAL flush): what every enqueue, fetch
    and finish pays at least once; on a shared disk it moves a lot."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (x int)")
        samples = []
        for _ in range(100):
            started = time.perf_counter()
            conn.execute("INSERT INTO bench_commit_probe VALUES (1)")
            samples.append(time.perf_counter() - started)
        conn.execute("DROP TABLE bench_commit_probe")
    return statistics.median(samples) * 1000


def main() -> None:
    variants = available_variants()
    out = Results()
    began = time.perf_counter()
    with server_url() as url, contextlib.ExitStack() as stack:
        label = server_label(url)
        load = os.getloadavg()[0]
        # one fresh database per variant, all measured in the same run, rounds interleaved
        dsns = {v: stack.enter_context(migrated_database(url, migrate=False)) for v in variants}
        commit_before = commit_ms(dsns[variants[0]])
        asyncio.run(measure_all(dsns, out))
        commit_after = commit_ms(dsns[variants[0]])
    print(
        f"# task queue choice, {label}, {versions(variants)}; medians of {ROUNDS} rounds; "
        f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at the end; "
        f"INSERT + COMMIT {commit_before:.2f} ms at start, {commit_after:.2f} ms at the end; "
        f"{time.perf_counter() - began:.0f} s in all"
    )
    report(variants, out)


def cli() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", choices=VARIANTS)
    parser.add_argument("--dsn")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--heartbeat", type=float)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker, args.dsn, args.concurrency, args.heartbeat)
    else:
        main()


if __name__ == "__main__":
    # run from the module's importable name, not __main__: procrastinate warns about an App
    # defined in __main__ (its CLI could not find it there)
    from bench.task_queue_choice import cli as run

    run()
