"""The marks model behind the run list: toggling records what a run was when marked, and a
shift+arrow range adds on the way out and takes back on the way in only what it added."""

from __future__ import annotations

from parkbench.core.records import Expectation, RunFilter
from parkbench.tui.widgets.run_marks import RunMarks


def rows(store):  # type: ignore[no-untyped-def]
    return store.list_runs(RunFilter(), limit=10).rows


def test_toggle_marks_with_the_expectation_then_unmarks(store, parked):
    first = rows(store)[0]
    marks = RunMarks()
    marks.toggle(first)
    assert marks == {first.id: Expectation(first.status, first.version)}
    marks.toggle(first)
    assert marks == {}


def test_a_range_takes_back_only_what_it_added(store, parked):
    a, b, c = rows(store)
    marks = RunMarks()
    marks.toggle(c)  # marked before the range
    marks.span = marks.extend_span(0, 1, a, b)  # shift+down from a to b
    marks.span = marks.extend_span(1, 2, b, c)  # ... and on to c
    assert set(marks) == {a.id, b.id, c.id}
    marks.span = marks.extend_span(2, 1, c, b)  # back up: c was marked before, it stays
    assert set(marks) == {a.id, b.id, c.id}
    marks.span = marks.extend_span(1, 0, b, a)  # back to the start: b goes
    assert set(marks) == {a.id, c.id}


def test_a_new_range_starts_where_the_cursor_is(store, parked):
    a, b, c = rows(store)
    marks = RunMarks()
    marks.span = marks.extend_span(0, 1, a, b)
    marks.span = None  # the cursor moved some other way
    marks.span = marks.extend_span(1, 0, b, a)  # a fresh range from b, going up: adds
    assert set(marks) == {a.id, b.id}
    marks.replace({c.id: Expectation(c.status, c.version)})
    assert set(marks) == {c.id}
