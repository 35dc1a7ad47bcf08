"""README's Python worker example runs as written, against a real queue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from parkbench.core.lifecycle import RunStatus
from parkbench.core.records import RunFilter
from parkbench.core.store import Store

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_example() -> str:
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    return block


def test_the_readme_worker_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    with Store.open(url) as store:
        ready = store.enqueue("Billing report", tmp_path, metadata={"api_key": "in vault"})
        blocked = store.enqueue("Payroll report", tmp_path)
    monkeypatch.setenv("PARKBENCH_DB", url)
    exec(compile(_python_example(), "README.md", "exec"), {})
    with Store.open(url) as store:
        done = store.get_run(ready.run_id, check_disk=False).run
        parked = store.get_run(blocked.run_id, check_disk=False).run
        assert done.status is RunStatus.COMPLETED
        assert parked.status is RunStatus.NEEDS_ATTENTION
        assert parked.block_reason == "need the API key for the billing service"
        # The reviewer answers; the next attempt hears it.
        store.requeue([blocked.run_id], reason="the key is in the vault now", actor="alice")
        assert store.count_runs(RunFilter(status=RunStatus.QUEUED)) == 1
    assert (tmp_path / "out" / "summary.md").read_text() == "summary of Billing report\n"
    exec(compile(_python_example(), "README.md", "exec"), {})
    assert "the reviewer said: the key is in the vault now" in capsys.readouterr().out
