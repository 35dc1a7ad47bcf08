"""`--db ~/x.db` and `--db sqlite:///~/x.db` name one file, for every command (issue 14).

Before there was one write path, `lease claim` expanded `~` in a sqlite:/// URL and
`lease release` did not, so the two opened different files. URL resolution is now one
function (parkbench.core.db.info.resolve_url / sqlite_path, used by make_engine): `~` is
expanded in bare paths and in sqlite:/// URLs, as a shell user expects.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from clitest_support import clean_env, run

from parkbench.core.db.engine import make_engine, resolve_url
from parkbench.core.store import Store

SPELLINGS = ("~/x.db", "sqlite:///~/x.db")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)  # a literal "~" directory would appear here
    return home


def test_both_spellings_resolve_to_the_file_in_home(home: Path) -> None:
    expected = f"sqlite:///{home / 'x.db'}"
    assert {resolve_url(s) for s in SPELLINGS} == {expected}
    engine = make_engine("sqlite:///~/y.db?timeout=5")  # options: resolved by the engine
    try:
        assert engine.url.database == str(home / "y.db")
    finally:
        engine.dispose()


def test_claim_release_and_list_open_the_same_file(home: Path, tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{home / 'x.db'}") as store:
        run_id = store.enqueue("find me", tmp_path).run_id
    env = clean_env(HOME=str(home))

    for claim_db, release_db in (SPELLINGS, SPELLINGS[::-1]):
        claimed = run("lease", "claim", "--worker", "w", "--json", "--db", claim_db, env=env)
        assert claimed.code == 0, claimed.stderr
        claim = claimed.json()
        assert isinstance(claim, dict) and claim["run_id"] == run_id
        token = str(claim["claim_token"])
        released = run(
            "lease", "release", str(run_id), "--token", token, "--db", release_db, env=env
        )
        assert released.code == 0, released.stderr

    for db in SPELLINGS:
        listed = run("list", "--status", "queued", "--json", "--db", db, env=env)
        assert listed.code == 0, listed.stderr
        assert "find me" in listed.stdout

    with Store.open(f"sqlite:///{home / 'x.db'}") as store:
        actions = [e.action for e in store.get_run(run_id).events]
    assert actions == ["enqueue", "claim", "release", "claim", "release"]
    assert not (tmp_path / "~").exists(), "a command opened ./~/x.db instead of $HOME/x.db"
    assert sorted(p.name for p in home.iterdir() if p.suffix == ".db") == ["x.db"]
