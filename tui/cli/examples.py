"""Examples shown at the end of each command's ``--help`` (its epilog)."""

from __future__ import annotations

from typing import Any

ROOT = """\
parkbench                                  # the review app (needs a terminal)
parkbench list --json | jq '.runs[].id'
parkbench --profile team list              # [profiles.team] in the config file
parkbench db path -v                       # which database, config file and profile
parkbench --install-completion             # tab completion for your shell"""

#: Command path -> its examples, one per line.
EXAMPLES: dict[str, str] = {
    "enqueue": """\
parkbench enqueue "nightly build" --workspace ~/work/site --require out/report.json
parkbench enqueue "migrate" --workspace . --priority 5 --max-attempts 1 --json""",
    "work": """\
parkbench work --worker ci-1 -- ./run-task.sh
parkbench work --worker agent-7 --wait --json -- python agent.py""",
    "lease": """\
parkbench lease claim --worker w1 --json
parkbench lease complete 42 --token -  < token.txt""",
    "lease claim": """\
parkbench lease claim --worker w1 --json
parkbench lease claim --worker w1 --lease 900 --db ~/parkbench.db""",
    "lease heartbeat": """\
PARKBENCH_TOKEN=$TOKEN parkbench lease heartbeat 42 --lease 600""",
    "lease complete": """\
parkbench lease complete 42 --token "$TOKEN" --json""",
    "lease fail": """\
parkbench lease fail 42 --token "$TOKEN" --reason "tests red" """,
    "lease release": """\
parkbench lease release 42 --token "$TOKEN" """,
    "lease block": """\
parkbench lease block 42 --token "$TOKEN" --reason "needs a human: ambiguous spec" """,
    "note": """\
parkbench note 42 --text "looking at this"
parkbench note 42 --text "waiting for the DBA" --actor alice --json""",
    "requeue": """\
parkbench requeue 42 43 --reason "fixed the flaky fixture"
parkbench requeue 42 --priority 10 --reason "$(cat answer.txt)"   # several lines
parkbench requeue --all-matching --search timeout --reason "retry after the outage" --yes""",
    "fail": """\
parkbench fail 42 --reason "obsolete task"
parkbench fail --all-matching --workspace site --reason "project dropped" --yes""",
    "release": """\
parkbench release 42 --reason "worker host died" """,
    "undo-requeue": """\
parkbench undo-requeue 42 --reason "requeued the wrong run"
parkbench undo-requeue 42 --reason "answer was wrong" --json""",
    "list": """\
parkbench list
parkbench list --status all --worker w1 --limit 20
parkbench list --json --after "$NEXT_CURSOR" """,
    "show": """\
parkbench show 42
parkbench show 42 --json""",
    "stats": """\
parkbench stats --json""",
    "causes": """\
parkbench causes
parkbench causes --limit all --json | jq '.causes[] | {key, count}'""",
    "recover": """\
parkbench recover
parkbench recover --now 2026-09-01T12:00:00Z --json""",
    "db": """\
parkbench db path
parkbench db upgrade --db postgresql+psycopg://reviewer@db.internal/parkbench""",
    "db path": """\
parkbench db path
parkbench --profile team db path --json""",
    "db upgrade": """\
parkbench db upgrade
parkbench db upgrade --db ~/parkbench.db --json""",
    "demo": """\
parkbench demo --workspace /tmp/demo --db /tmp/demo.db
parkbench demo --workspace /tmp/demo --runs 100000 --seed 7 --db /tmp/big.db""",
    "watch": """\
parkbench watch
parkbench watch --json > receipts.jsonl""",
    "snapshot": """\
parkbench snapshot --out snapshots/
parkbench snapshot --out snapshots/ --fail-on-attention""",
}


def attach(command: Any, *, holder_is_group: bool) -> None:
    """Give every command under ``command`` (a holder group, or one command) its examples."""
    stack: list[tuple[str, Any]] = []
    if holder_is_group:
        stack.extend((name, sub) for name, sub in command.commands.items())
    else:
        stack.append((command.name, command))
    while stack:
        path, current = stack.pop()
        if not current.epilog and path in EXAMPLES:
            current.epilog = EXAMPLES[path]
        for name, sub in getattr(current, "commands", {}).items():
            stack.append((f"{path} {name}", sub))
