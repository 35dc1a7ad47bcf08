"""The receipt index on its own: which changes reach which required paths, and readiness."""

from __future__ import annotations

from parkbench.core.contracts import ArtifactCheck, ArtifactState
from parkbench.core.watch import ReadinessChange, ReceiptChange
from parkbench.core.watch.index import ParkedRun, ReceiptIndex, ancestors

P, M, NAF = ArtifactState.PRESENT, ArtifactState.MISSING, ArtifactState.NOT_A_FILE
ROOT = "/ws"


def run(run_id: int, *paths: str, root: str = ROOT, version: int = 1) -> ParkedRun:
    return ParkedRun(run_id, root, paths, version, "park_missing")


def check(index: ReceiptIndex, rel: str, state: ArtifactState, root: str = ROOT) -> list:
    return index.apply(root, rel, ArtifactCheck(rel, state))


def test_ancestors():
    assert ancestors("a/b/c.txt") == ["a/b", "a"]
    assert ancestors("c.txt") == []


def test_changes_at_the_path_or_any_directory_above_it_affect_it():
    index = ReceiptIndex()
    assert index.add(run(1, "a/b/c.txt", "d.txt")) == [(ROOT, "a/b/c.txt"), (ROOT, "d.txt")]
    assert index.affected(ROOT, "a/b/c.txt") == {"a/b/c.txt"}
    assert index.affected(ROOT, "a/b") == {"a/b/c.txt"}
    assert index.affected(ROOT, "a") == {"a/b/c.txt"}
    assert index.affected(ROOT, "a/b/other.txt") == set()
    assert index.affected(ROOT, "a/b/c.txt/inner") == set()
    assert index.affected("/elsewhere", "a") == set()


def test_an_alias_maps_the_symlink_target_back_to_the_required_path():
    index = ReceiptIndex()
    index.add(run(1, "link/ok.txt"))
    index.set_alias(ROOT, "link/ok.txt", "real/ok.txt")
    assert index.affected(ROOT, "real/ok.txt") == {"link/ok.txt"}
    assert index.affected(ROOT, "real") == {"link/ok.txt"}
    index.set_alias(ROOT, "link/ok.txt", "other/ok.txt")  # retargeted
    assert index.affected(ROOT, "real") == set()
    assert index.affected(ROOT, "other") == {"link/ok.txt"}
    index.remove(1)
    assert index.affected(ROOT, "other") == set() and index.alias_of(ROOT, "link/ok.txt") is None


def test_first_checks_are_silent_then_changes_are_recorded_per_run():
    index = ReceiptIndex()
    index.add(run(1, "shared.txt", "own.txt"))
    index.add(run(2, "shared.txt"))
    assert check(index, "shared.txt", M) == []
    assert check(index, "own.txt", P) == []
    assert index.settle() == [1, 2]
    assert check(index, "shared.txt", M) == []  # no change, no record
    assert check(index, "shared.txt", P) == [
        ReceiptChange(1, ROOT, "shared.txt", M, P),
        ReadinessChange(1, True),
        ReceiptChange(2, ROOT, "shared.txt", M, P),
        ReadinessChange(2, True),
    ]
    assert index.ready_run_ids() == {1, 2}
    assert check(index, "own.txt", NAF) == [
        ReceiptChange(1, ROOT, "own.txt", P, NAF),
        ReadinessChange(1, False),
    ]
    assert index.ready_run_ids() == {2}


def test_a_run_added_later_reuses_known_states():
    index = ReceiptIndex()
    index.add(run(1, "ok.txt"))
    check(index, "ok.txt", P)
    index.settle()
    assert index.add(run(2, "ok.txt")) == []  # already checked
    assert index.is_ready(2)
    assert index.settle() == [2]


def test_a_new_version_keeps_states_and_removal_cleans_up():
    index = ReceiptIndex()
    index.add(run(1, "ok.txt"))
    check(index, "ok.txt", P)
    assert index.add(run(1, "ok.txt", version=5)) == []
    assert index.get(1).version == 5 and index.is_ready(1)
    assert index.remove(1) is not None
    assert index.roots() == frozenset() and index.paths_of(ROOT) == []
    assert index.affected(ROOT, "ok.txt") == set()
    assert check(index, "ok.txt", M) == []  # a late result for a dropped path is ignored
    assert index.remove(1) is None
