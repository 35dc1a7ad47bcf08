"""A review filter (:class:`parkbench.core.filters.Filter`) as SQL conditions on the run list.

The conditions sit in the same WHERE as the status and the keyset bound, so every list,
count and key walk still reads the status's indexes in sort order (no OFFSET, no sort of
the result) and checks the terms on the rows it passes; run ids use the primary key. Text
matches are case-insensitive substring matches with ``%``, ``_`` and the escape character
escaped (``autoescape``): what the reviewer typed is matched literally. A value no stored
text can hold (a NUL, a lone surrogate: :mod:`parkbench.core.inputs` refuses both on the
way in) matches nothing, without being sent to a driver that would refuse it.
"""

from __future__ import annotations

import sqlalchemy as sa

from parkbench.core.filters import Filter, Term, TextField
from parkbench.core.models import runs, tasks, workspaces

#: The columns each field looks in.
_COLUMNS: dict[TextField, tuple[sa.ColumnElement[str], ...]] = {
    TextField.ANY: (
        tasks.c.title,
        runs.c.block_reason,
        runs.c.failure_reason,
        runs.c.worker,
        workspaces.c.root,
    ),
    TextField.TASK: (tasks.c.title,),
    TextField.REASON: (runs.c.block_reason, runs.c.failure_reason),
    TextField.WORKER: (runs.c.worker,),
    TextField.WORKSPACE: (workspaces.c.name, workspaces.c.root),
}
#: Fields whose columns are on runs itself (no join needed).
_RUN_ONLY = frozenset({TextField.REASON, TextField.WORKER})


def _storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def term_clause(term: Term) -> sa.ColumnElement[bool]:
    if not _storable(term.value):
        return sa.false()
    matches = [column.icontains(term.value, autoescape=True) for column in _COLUMNS[term.field]]
    run_id = term.run_id
    if run_id is not None:
        matches.append(runs.c.id == run_id)
    return sa.or_(*matches)


def filter_clauses(matching: Filter) -> list[sa.ColumnElement[bool]]:
    """Every term (AND), and the run ids (any of them). The status is the caller's."""
    clauses = [term_clause(term) for term in matching.terms]
    if matching.run_ids:
        clauses.append(runs.c.id.in_(matching.run_ids))
    return clauses


def filter_needs_join(matching: Filter) -> bool:
    """Whether the terms read the task or workspace tables."""
    return any(term.field not in _RUN_ONLY for term in matching.terms)
