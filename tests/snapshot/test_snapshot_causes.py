"""`parkbench snapshot` and causes (issue 20 §1): the `causes` screen, and the groups in
summary.json (the same as `parkbench causes --json`, in the summary's one snapshot)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest
from snapshottest_support import (
    NOW_MS,
    assert_safe_svg,
    assert_safe_text,
    park,
    seed_hostile,
    seed_review,
)

from parkbench.core.store import Store
from parkbench.tui.snapshot.headless import render_screens
from parkbench.tui.snapshot.options import SCREENS, View
from parkbench.tui.snapshot.summary import close_summary, write_summary


class Clock:
    def __init__(self) -> None:
        self.now_ms = NOW_MS - 3_600_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, seconds: float) -> None:
        self.now_ms += int(seconds * 1000)


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    root = tmp_path_factory.mktemp("causes")
    workspace = root / "workspace"
    workspace.mkdir()
    with Store.open(f"sqlite:///{root / 'causes.db'}", clock=Clock()) as store:
        seed_review(store, workspace, store.clock)
        for runner in (3, 7):
            park(
                store,
                workspace,
                "Build",
                f"disk quota exceeded on runner {runner}",
                worker=f"ci-{runner}",
                clock=store.clock,
            )
        seed_hostile(store, workspace, store.clock)
        yield store


def summary_of(store: Store, limit: int | None = None) -> dict[str, object]:
    out = io.StringIO()
    write_summary(store, out, {}, limit=limit)
    close_summary(out, {"screens": {}})
    text = out.getvalue()
    assert text.isascii()
    return json.loads(text)


def test_causes_is_a_screen_of_the_snapshot() -> None:
    assert "causes" in SCREENS


def test_the_causes_screen_lists_the_groups(review: Store) -> None:
    (capture,) = render_screens(review, View(now_ms=NOW_MS, screens=("causes",)))
    assert capture.name == "causes" and capture.skipped is None
    assert_safe_text(capture.text)
    assert_safe_svg(capture.svg)
    causes = review.causes()
    assert f"{causes.groups_total} causes · {causes.runs_total} parked runs" in capture.text
    assert "disk quota exceeded on runner 3" in capture.text  # the example
    assert "disk quota exceeded on runner <n>" in capture.text  # the cause, below
    assert "[bold red]x[/]" in capture.text  # markup shown, not applied
    again = render_screens(review, View(now_ms=NOW_MS, screens=("causes",)))
    assert again[0].svg == capture.svg  # reproducible


def test_summary_json_has_every_cause_whatever_it_lists(review: Store) -> None:
    document = summary_of(review)
    expected = review.causes().to_dict()
    assert document["causes"] == expected["causes"]
    assert document["causes_total"] == expected["causes_total"]
    disk = next(c for c in document["causes"] if c["key"].startswith("disk quota"))
    assert disk["count"] == 2 and disk["workers"] == ["ci-3", "ci-7"]
    limited = summary_of(review, limit=1)
    assert limited["needs_attention_listed"] == 1
    assert limited["causes"] == document["causes"]  # the limit is for the run list only
