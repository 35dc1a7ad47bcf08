"""The block reasons of a set of runs, counted: what a requeue of marked runs answers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa

from parkbench.core.models import runs

#: Reasons are told apart by their first characters: a megabyte of reason is never fetched
#: whole, and two reasons that differ only past this point count as one.
REASON_KEY_CHARS = 200
#: Run ids per statement (well inside every driver's bound-parameter limit).
IDS_PER_READ = 500


def block_reason_counts(conn: sa.Connection, run_ids: Sequence[int]) -> Counter[str]:
    """``reason prefix -> runs`` among ``run_ids`` ("" for runs without a block reason),
    grouped in the database a batch of ids at a time."""
    key = sa.func.substr(sa.func.coalesce(runs.c.block_reason, ""), 1, REASON_KEY_CHARS)
    counts: Counter[str] = Counter()
    for lo in range(0, len(run_ids), IDS_PER_READ):
        chunk = list(run_ids[lo : lo + IDS_PER_READ])
        query = (
            sa.select(key.label("reason"), sa.func.count())
            .where(runs.c.id.in_(chunk))
            .group_by(key)
        )
        for reason, count in conn.execute(query):
            counts[str(reason)] += int(count)
    return counts
