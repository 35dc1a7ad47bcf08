"""How a reviewer command acts on many runs in memory that stays flat.

``--all-matching`` first records what matches: the ``(id, status, version)`` of each run,
read a batch at a time by id (never a row's text) into a temporary file, so that the
command later acts only on runs still as they were counted. It then acts a batch at a time,
and each batch's results are folded into :class:`Outcomes`: counts, the few results the
human table shows, and (for ``--json``) the per-run documents spooled to another temporary
file. What is held at any moment is one batch, whatever the number of runs or the size of
their reasons; the temporary files stay in memory while small (:data:`SPOOL_BYTES`).

Imported only by the reviewer commands when they run (it loads the store's read side).
"""

from __future__ import annotations

import struct
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import IO

from parkbench.core.errors import EXIT_CODES
from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import ActionResult, Expectation, RunFilter
from parkbench.core.store import Store, queries
from parkbench.tui.action_history import skip_reason
from parkbench.tui.cli import output

#: Runs read and acted on per step: one batch's expectations and results are what is held.
BATCH_SIZE = 500
#: A temporary file stays in memory up to this many bytes, then moves to disk.
SPOOL_BYTES = 1 << 20

_STATUSES = tuple(RunStatus)
_STATUS_INDEX = {status: index for index, status in enumerate(_STATUSES)}
#: One matched run: id, status (its index in RunStatus), version.
_RECORD = struct.Struct("<qBq")

#: A batch to act on: the run ids, and what each looked like when counted (None: no check).
Batch = tuple[list[int], dict[int, Expectation] | None]


class Matched:
    """Every run a filter matched, with the status and version it had then, on a spool."""

    def __init__(self) -> None:
        # Owned by this object and closed by close(): it outlives any one with-block here.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        self.count = 0

    @classmethod
    def read(cls, store: Store, run_filter: RunFilter) -> Matched:
        """Page the matching runs' ``(id, status, version)`` by id, a batch per read."""
        matched = cls()
        after: int | None = None
        while True:
            page = store.read(
                lambda conn, after=after: queries.matching_versions(
                    conn, run_filter, after_id=after, limit=BATCH_SIZE
                )
            )
            for run_id, status, version in page:
                matched._file.write(_RECORD.pack(run_id, _STATUS_INDEX[RunStatus(status)], version))
            matched.count += len(page)
            if len(page) < BATCH_SIZE:
                return matched
            after = page[-1][0]

    def batches(self) -> Iterator[Batch]:
        self._file.seek(0)
        while chunk := self._file.read(_RECORD.size * BATCH_SIZE):
            expected = {
                run_id: Expectation(_STATUSES[status], version)
                for run_id, status, version in _RECORD.iter_unpack(chunk)
            }
            yield list(expected), expected

    def close(self) -> None:
        self._file.close()


def id_batches(run_ids: Sequence[int]) -> Iterator[Batch]:
    """Named runs (no expectation), de-duplicated in order, a batch at a time."""
    unique = list(dict.fromkeys(run_ids))
    for start in range(0, len(unique), BATCH_SIZE):
        yield unique[start : start + BATCH_SIZE], None


def severity(result: ActionResult) -> int:
    return EXIT_CODES.get(result.error.code, 1) if result.error else 1


class Outcomes:
    """The results of a bulk action, folded in batch by batch.

    ``total`` (known before acting) decides what the human table keeps: every result up to
    ``table_limit``, else the first ``table_limit`` failures.
    """

    def __init__(self, total: int, *, table_limit: int, json_mode: bool) -> None:
        self.total = total
        self.table_limit = table_limit
        self.ok = 0
        self.failed = 0
        self.shown: list[ActionResult] = []
        #: The first of the most severe failures (what the error envelope names).
        self.worst: ActionResult | None = None
        #: ``(run id, code)`` of every failure: the error envelope's details list them all.
        self.failures: list[tuple[int, str]] = []
        self._json: IO[str] | None = (
            tempfile.SpooledTemporaryFile(  # noqa: SIM115 - owned, closed by close()
                max_size=SPOOL_BYTES, mode="w+", encoding="utf-8"
            )
            if json_mode
            else None
        )

    @property
    def count(self) -> int:
        return self.ok + self.failed

    def add(self, results: Sequence[ActionResult]) -> None:
        keep_all = self.total <= self.table_limit
        for result in results:
            if self._json is not None:
                self._json.write((", " if self.count else "") + output.dumps(result.to_dict()))
            if result.ok:
                self.ok += 1
                if keep_all:
                    self.shown.append(result)
                continue
            self.failed += 1
            self.failures.append((result.run_id, result.error.code if result.error else "internal"))
            if self.worst is None or severity(result) > severity(self.worst):
                self.worst = result
            if keep_all or len(self.shown) < self.table_limit:
                self.shown.append(result)

    def summary(self, past: str) -> str:
        """E.g. ``9,812 requeued, 188 skipped: changed since you looked`` (as the review app
        says it)."""
        parts = [f"{self.ok:,} {past}"]
        codes = Counter(code for _, code in self.failures)
        if len(codes) == 1:
            parts.append(f"{self.failed:,} skipped: {skip_reason(next(iter(codes)))}")
        elif codes:
            why = ", ".join(f"{count:,} {skip_reason(code)}" for code, count in codes.items())
            parts.append(f"{self.failed:,} skipped ({why})")
        return ", ".join(parts)

    def emit_json(self, head: dict[str, object], tail: dict[str, object]) -> None:
        """One JSON document: ``head``, the spooled ``results``, then ``tail``'s keys."""
        assert self._json is not None
        opening = output.dumps(head)
        sys.stdout.write(opening[:-1] + ', "results": [')
        self._json.seek(0)
        while chunk := self._json.read(SPOOL_BYTES):
            sys.stdout.write(chunk)
        closing = output.dumps(tail)
        sys.stdout.write("]" + (", " + closing[1:] if tail else "}") + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        if self._json is not None:
            self._json.close()
