"""Issue 20.3: the filter language, parsed by a pure function that never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parkbench.core.filters import (
    MAX_TERMS,
    MAX_VALUE,
    Filter,
    Term,
    TextField,
    format_filter,
    parse_filter,
    quote,
)
from parkbench.core.lifecycle import RunStatus

HOSTILE = st.text(
    alphabet=st.characters(codec="utf-8")
    | st.sampled_from(list('"\\:#%_ \t\n\x00\x1b[]*?worker:status:id:')),
    max_size=120,
)


def test_fields_phrases_and_words_are_all_required() -> None:
    parsed = parse_filter('worker:agent-7 workspace:payments "disk quota"')
    assert parsed.ok
    assert parsed.filter.terms == (
        Term(TextField.WORKER, "agent-7"),
        Term(TextField.WORKSPACE, "payments"),
        Term(TextField.ANY, "disk quota"),
    )


@pytest.mark.parametrize(
    ("text", "run_ids", "bare"),
    [("945", (), 945), ("#945", (945,), None), ("id:945", (945,), None), ("#1 #2", (1, 2), None)],
)
def test_run_ids(text: str, run_ids: tuple[int, ...], bare: int | None) -> None:
    parsed = parse_filter(text)
    assert parsed.ok and parsed.filter.run_ids == run_ids
    assert [term.run_id for term in parsed.filter.terms] == ([bare] if bare else [])


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("status:needs_attention", RunStatus.NEEDS_ATTENTION),
        ("status:parked", RunStatus.NEEDS_ATTENTION),
        ("STATUS:Queued", RunStatus.QUEUED),
        ("status:needs-attention", RunStatus.NEEDS_ATTENTION),
        ("status:all", None),
    ],
)
def test_status(text: str, status: RunStatus | None) -> None:
    parsed = parse_filter(text)
    assert parsed.ok and parsed.filter.names_status and parsed.filter.status is status


def test_task_title_and_reason_fields() -> None:
    parsed = parse_filter('task:"nightly logs" title:x reason:quota')
    assert parsed.filter.terms == (
        Term(TextField.TASK, "nightly logs"),
        Term(TextField.TASK, "x"),
        Term(TextField.REASON, "quota"),
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("wrker:agent-7", "unknown field wrker:"),
        ("worker:", "worker: needs a value"),
        ('worker:""', "worker: needs a value"),
        ("status:bogus", "unknown status 'bogus'"),
        ("status:queued status:failed", "a filter names one status"),
        ("id:abc", "id: takes a run id"),
        ("#1234567890123456789012", "no run has an id that long"),
        (" ".join(f"w{n}" for n in range(MAX_TERMS + 1)), "too many terms"),
    ],
)
def test_problems_are_values_with_a_hint(text: str, says: str) -> None:
    parsed = parse_filter(text)
    assert not parsed.ok
    problem = parsed.problems[0]
    assert problem.message.startswith(says), problem
    assert problem.hint and 0 <= problem.start < problem.end <= len(text)


def test_an_unclosed_quote_runs_to_the_end() -> None:
    assert parse_filter('"disk quo').filter.terms == (Term(TextField.ANY, "disk quo"),)


def test_wildcards_and_escapes_stay_literal() -> None:
    parsed = parse_filter(r'100%_off "a \"b\" \\c"')
    assert parsed.filter.terms == (
        Term(TextField.ANY, "100%_off"),
        Term(TextField.ANY, 'a "b" \\c'),
    )


@settings(max_examples=400, deadline=None)
@given(HOSTILE)
def test_never_raises_and_spans_point_into_the_text(text: str) -> None:
    parsed = parse_filter(text)
    for problem in parsed.problems:
        assert 0 <= problem.start <= problem.end <= len(text)
        assert problem.message and problem.hint
    for term in parsed.filter.terms:
        assert term.value and len(term.value) <= MAX_VALUE
    # What was understood reads back the same from its own text.
    assert parse_filter(format_filter(parsed.filter)).filter == parsed.filter


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=MAX_VALUE))
def test_a_quoted_phrase_round_trips(value: str) -> None:
    parsed = parse_filter(quote(value))
    assert parsed.ok
    assert parsed.filter.terms == (Term(TextField.ANY, value),)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.builds(
            Term,
            st.sampled_from(list(TextField)),
            st.text(min_size=1, max_size=40),
        ).filter(lambda term: term.field is TextField.ANY or term.value.strip()),
        max_size=6,
        unique=True,
    ),
    st.lists(st.integers(min_value=0, max_value=10**18 - 1), max_size=4, unique=True),
    st.sampled_from(["absent", "all", *RunStatus]),
)
def test_format_then_parse_is_the_same_filter(
    terms: list[Term], run_ids: list[int], status: object
) -> None:
    names_status = status != "absent"
    chosen = Filter(
        tuple(terms),
        tuple(run_ids),
        names_status=names_status,
        status=status if isinstance(status, RunStatus) else None,
    )
    parsed = parse_filter(format_filter(chosen))
    assert parsed.ok, parsed.problems
    assert parsed.filter == chosen
