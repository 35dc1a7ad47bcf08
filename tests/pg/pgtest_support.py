"""Helpers for the PostgreSQL tests and the PostgreSQL benchmark (not a test module).

Race participants live here at module level because ``multiprocessing``'s spawn start
method imports them by name in each child process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from parkbench.core.models import events, runs, tasks, workspaces

# -- databases ------------------------------------------------------------------------------


def create_database(admin_url: str) -> str:
    """A fresh, empty database on the admin URL's server; its URL."""
    name = f"pb_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        engine.dispose()
    return sa.engine.make_url(admin_url).set(database=name).render_as_string(False)


def drop_database(admin_url: str, url: str) -> None:
    name = sa.engine.make_url(url).database
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        engine.dispose()


def terminate_backend(admin_url: str, pid: int) -> bool:
    """End one server process, as a server restart would end every session."""
    engine = sa.create_engine(admin_url)
    try:
        with engine.connect() as conn:
            return bool(
                conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            )
    finally:
        engine.dispose()


# -- seeding --------------------------------------------------------------------------------


def seed_queued(engine: Engine, root: str, count: int, *, now_ms: int) -> list[int]:
    """``count`` queued runs, one task each, with the rows and enqueue events the Store
    would write, in one bulk transaction (the Store takes one transaction per run)."""
    root = os.path.realpath(root)
    with engine.begin() as conn:
        workspace_id = conn.execute(
            sa.select(workspaces.c.id).where(workspaces.c.root == root)
        ).scalar()
        if workspace_id is None:
            workspace_id = conn.execute(
                workspaces.insert().returning(workspaces.c.id),
                {"name": os.path.basename(root), "root": root, "created_at": now_ms},
            ).scalar_one()
        task_ids = list(
            conn.execute(
                tasks.insert().returning(tasks.c.id, sort_by_parameter_order=True),
                [
                    {
                        "title": f"seeded task {i}",
                        "workspace_id": workspace_id,
                        "priority": 0,
                        "max_attempts": 3,
                        "max_runtime_ms": None,
                        "metadata_json": "{}",
                        "created_at": now_ms,
                    }
                    for i in range(count)
                ],
            ).scalars()
        )
        run_ids = list(
            conn.execute(
                runs.insert().returning(runs.c.id, sort_by_parameter_order=True),
                [
                    {
                        "task_id": task_id,
                        "workspace_id": workspace_id,
                        "attempt": 1,
                        "max_attempts": 3,
                        "priority": 0,
                        "status": "queued",
                        "lineage_depth": 0,
                        "metadata_json": "{}",
                        "attempt_limit_overridden": False,
                        "version": 1,
                        "queued_at": now_ms + i,
                        "status_changed_at": now_ms + i,
                    }
                    for i, task_id in enumerate(task_ids)
                ],
            ).scalars()
        )
        conn.execute(
            events.insert(),
            [
                {
                    "run_id": run_id,
                    "task_id": task_id,
                    "actor_kind": "worker",
                    "actor": "seed",
                    "action": "enqueue",
                    "from_status": None,
                    "to_status": "queued",
                    "created_at": now_ms,
                }
                for task_id, run_id in zip(task_ids, run_ids, strict=True)
            ],
        )
    return run_ids


# -- race participants (spawned OS processes) ---------------------------------------------


def claim_until_empty(url: str, name: str, barrier: Any, results: Any) -> None:
    """Claim and complete until claim_next says the queue is empty.

    Reports every run it completed, every error, and how many runs were still queued
    right after its ``None`` (runs other claimers had locked but not yet committed).
    """
    from parkbench.core.store import Store

    done: list[int] = []
    errors: list[str] = []
    queued_after_none = -1
    try:
        with Store.open(url) as store:
            barrier.wait(timeout=120)
            while True:
                try:
                    claim = store.claim_next(name, lease_s=600)
                    if claim is None:
                        queued_after_none = store.counts_by_status().get("queued", 0)
                        break
                    store.complete(claim.run_id, claim.claim_token)
                    done.append(claim.run_id)
                except Exception as error:  # counted, not raised: the test asserts none
                    errors.append(repr(error))
                    if len(errors) > 20:
                        break
    except Exception:
        errors.append(traceback.format_exc())
    results.put({"worker": name, "done": done, "errors": errors, "queued": queued_after_none})


def act_in_step(url: str, role: str, plan: list[tuple[Any, ...]], barrier: Any, results: Any):
    """One side of a head-to-head race: for each trial wait at the barrier, then act.

    ``plan`` items are (run_id, action, argument); the outcome is "ok" or the error code.
    """
    from parkbench.core.lifecycle import RunStatus
    from parkbench.core.records import Expectation
    from parkbench.core.store import Store

    outcomes: list[str] = []
    try:
        with Store.open(url) as store:
            for run_id, action, argument in plan:
                barrier.wait(timeout=60)
                try:
                    if action == "complete":
                        store.complete(run_id, argument)
                        outcomes.append("ok")
                        continue
                    expected = None
                    if argument is not None:
                        status, version = argument
                        expected = {run_id: Expectation(RunStatus(status), version)}
                    review = {
                        "requeue": store.requeue,
                        "fail": store.force_fail,
                        "release": store.force_release,
                    }[action]
                    # force: the claimed runs' leases are live; the race is what is tested.
                    options = {} if action == "requeue" else {"force": True}
                    [result] = review(
                        [run_id], reason=f"{role} decided", expected=expected, **options
                    )
                    outcomes.append("ok" if result.ok else result.error.code)
                except Exception as error:
                    outcomes.append(getattr(error, "code", repr(error)))
    except Exception:
        outcomes.append(traceback.format_exc())
    results.put((role, outcomes))


# -- a TCP relay whose plug can be pulled ------------------------------------------------------


class Relay:
    """Forwards 127.0.0.1:<port> to the PostgreSQL server; ``cut()`` drops every connection
    and refuses new ones (the server looks down), ``restore()`` accepts again.

    Lets a test take "the server" away and bring it back without touching the shared server.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            pairs, self._pairs = self._pairs, []
        if listener is not None:
            listener.close()
        for left, right in pairs:
            for sock in (left, right):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until true (for states another thread or server changes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
