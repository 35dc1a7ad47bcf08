"""The long crash-safety run: thousands of SIGKILLs, then the same checks as the test.

    .venv/bin/python tests/bench/bench_crash.py                      # SQLite, 2,000 kills
    .venv/bin/python tests/bench/bench_crash.py --backend postgres   # needs PARKBENCH_TEST_PG_URL
    .venv/bin/python tests/bench/bench_crash.py --kills 5000 --parallel 6 --seed 7
    .venv/bin/python tests/bench/bench_crash.py --cli-kills 0       # skip the CLI victims

Prints the kill count, where the kills landed (inside a transaction, committing, between
transactions; which operation), the integrity and invariant verdicts, what the expiry sweep
recovered, and exits non-zero if any check failed. After the forked Store workers it kills
``--cli-kills`` real ``parkbench lease claim`` processes (faults.cli_crash). Kill sites are
read from the database at each kill (faults.killsite), never reported by the victim. Not a
speed benchmark: the kill rate is reported only to size runs. See tests/bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the faults package

from faults import cli_crash, crashlab, invariants, recovery
from testkit import PG_ENV, create_pg_database, drop_pg_database

from parkbench.core.store import Store


def _verdict(store: Store, label: str) -> bool:
    integrity = invariants.integrity_check(store.engine)
    report = invariants.check(store.engine)
    ok = integrity == ["ok"] and not report.violations
    print(
        f"  {label}: integrity {'ok' if integrity == ['ok'] else integrity[:5]}; "
        f"{report.runs} runs, {report.events} events, "
        f"by status {dict(sorted(report.by_status.items()))}; "
        f"{len(report.violations)} invariant violations"
    )
    for violation in report.violations[:20]:
        print(f"    ! {violation}")
    return ok


def run(url: str, workspace: Path, args: argparse.Namespace) -> bool:
    print(f"seeding {args.tasks} tasks ...")
    crashlab.seed_database(url, workspace, args.tasks, args.seed)
    print(f"killing {args.kills} processes, {args.parallel} at a time ...")
    kills = crashlab.run_kill_loop(
        url, workspace, kills=args.kills, parallel=args.parallel, seed=args.seed,
        deadline_s=args.deadline,
    )  # fmt: skip
    print(f"  {kills.summary()}")
    ok = not kills.unexpected_exits and kills.kills >= args.kills
    for line in kills.unexpected_exits[:20]:
        print(f"    ! {line}")
    if args.cli_kills:
        print(f"killing {args.cli_kills} `parkbench lease claim` processes ...")
        cli_kills, commands = cli_crash.cli_kill_loop(
            url, kills=args.cli_kills, seed=args.seed, deadline_s=args.deadline
        )
        print(f"  {cli_kills.summary()}")
        ok &= not cli_kills.unexpected_exits and cli_kills.kills >= args.cli_kills
        ok &= all(c[:3] == (str(cli_crash.PARKBENCH), "lease", "claim") for c in commands)
        for line in cli_kills.unexpected_exits[:20]:
            print(f"    ! {line}")
    with Store.open(url) as store:
        if store.engine.dialect.name == "sqlite":
            with store.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        ok &= _verdict(store, "after the kills")
        swept = recovery.sweep_past_every_lease(store)
        print(f"  sweep past every lease: {swept.expired} orphaned leases -> {swept.recovered}")
        ok &= _verdict(store, "after the sweep")
        recovery.drain(store, swept)
        print(f"  drained {swept.drained} queued runs to completion or failure")
        ok &= _verdict(store, "after draining")
        for violation in swept.violations:
            print(f"    ! {violation}")
        ok &= not swept.violations
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--kills", type=int, default=2000)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--cli-kills", type=int, default=100, help="parkbench CLI victims")
    parser.add_argument("--tasks", type=int, default=400, help="tasks seeded before the kills")
    parser.add_argument("--seed", type=int, default=20260901)
    parser.add_argument("--deadline", type=float, default=1800.0, help="give up after (s)")
    args = parser.parse_args()

    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="pkb-crash-") as scratch:
        workspace = crashlab.prepare_workspace(Path(scratch) / "workspace")
        if args.backend == "sqlite":
            url = f"sqlite:///{Path(scratch) / 'crash.db'}"
            ok = run(url, workspace, args)
        else:
            admin = os.environ.get(PG_ENV)
            if not admin:
                print(f"set {PG_ENV} (e.g. $(bash .ci/pg.sh start))", file=sys.stderr)
                return 2
            url = create_pg_database(admin)
            try:
                ok = run(url, workspace, args)
            finally:
                drop_pg_database(admin, url)
    print(f"{'PASS' if ok else 'FAIL'} ({args.backend}, {time.monotonic() - began:.0f} s total)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
