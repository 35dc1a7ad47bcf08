"""Command-line conventions: help pages, groups without a subcommand, the review app without
a terminal, shell completion, -v/-q, and the config file with its profiles."""

from __future__ import annotations

import importlib.machinery
import json
import logging
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import typer
from clitest_support import clean_env, entry_point, invoke

import parkbench.tui.cli
from parkbench.core.store import Store

ROOT = Path(parkbench.tui.cli.__file__).resolve().parents[2]
NEEDS_TERMINAL = "the review app needs a terminal; use `parkbench list` or `parkbench snapshot`"


def every_command_path() -> list[tuple[str, ...]]:
    root = typer.main.get_command(parkbench.tui.cli.app)
    found: list[tuple[str, ...]] = [()]

    def walk(command: object, path: tuple[str, ...], ctx: typer.Context) -> None:
        for name in command.list_commands(ctx):  # type: ignore[attr-defined]
            sub = command.get_command(ctx, name)  # type: ignore[attr-defined]
            found.append((*path, name))
            if hasattr(sub, "list_commands"):
                walk(sub, (*path, name), typer.Context(sub, parent=ctx, info_name=name))

    walk(root, (), typer.Context(root, info_name="parkbench"))
    return found


# -- help pages ---------------------------------------------------------------------------


def test_help_pages_show_metavars_and_examples_not_types() -> None:
    paths = every_command_path()
    assert ("lease", "claim") in paths and ("db", "path") in paths and len(paths) > 20
    for path in paths:
        done = invoke(*path, "--help")
        assert done.code == 0 and done.stderr == "", path
        page = done.stdout
        # typer 0.29 alone would print `<bool>`, `<list[int]>`, `{TITLE} <str>`
        assert not re.search(r"<(bool|int|str|float|path|list\[[a-z]+\])>", page), (path, page)
        assert "{" not in page.split("Examples:")[0], (path, page)
        assert "Examples:" in page and "parkbench " in page.split("Examples:")[1], path
    enqueue = invoke("enqueue", "--help").stdout
    # TITLE and --workspace may come from a --from file instead.
    assert "Usage: parkbench enqueue [OPTIONS] [TITLE]" in enqueue
    assert re.search(r"--priority N\s+Higher runs first\. \[default: 0\]", enqueue)
    assert re.search(r"--workspace DIR\s+Workspace root", enqueue)
    assert re.search(r"--from FILE\s+Enqueue every task of a JSON-lines file", enqueue)
    requeue = invoke("requeue", "--help").stdout
    assert re.search(r"\n  RUN\.\.\.\s+Run ids\.", requeue)
    assert re.search(r"\n  -y, --yes\s+Do not ask", requeue)  # a flag: no value shown


def test_the_cli_uses_no_private_typer_or_click_modules() -> None:
    private = re.compile(r"^\s*(from|import)\s+(typer|click)\._|typer\._[a-z]", re.MULTILINE)
    sources = [*ROOT.joinpath("tui", "cli").glob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    offenders = [str(p) for p in sources if p != Path(__file__) and private.search(p.read_text())]
    assert offenders == []
    assert not ROOT.joinpath("tui", "cli", "coerce.py").exists()


# -- groups without a subcommand, unknown names -------------------------------------------


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (("--json", "db"), "path, upgrade"),
        (("--json", "lease"), "claim, heartbeat, complete, fail, release, block"),
    ],
)
def test_a_group_without_a_subcommand_is_a_usage_error(args: tuple[str, ...], names: str) -> None:
    done = invoke(*args)
    assert done.code == 2 and done.stdout == ""
    error = done.error()
    assert error["code"] == "validation"
    assert error["message"].endswith(f"needs a command: {names}")
    assert error["hint"] == f"see `parkbench {args[1]} --help`"


def test_a_group_prints_its_help_only_when_asked() -> None:
    human = invoke("lease")
    assert human.code == 2 and human.stdout == ""
    assert human.stderr.startswith("error[validation]: `parkbench lease` needs a command: claim")
    helped = invoke("lease", "--help")
    assert helped.code == 0 and "Usage: parkbench lease" in helped.stdout and not helped.stderr


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [(("lsit",), "list"), (("lease", "clam"), "claim"), (("db", "upgrad"), "upgrade")],
)
def test_near_miss_command_names_get_a_suggestion(args: tuple[str, ...], suggestion: str) -> None:
    error = invoke("--json", *args).error()
    assert error["code"] == "validation"
    assert error["message"].endswith(f"did you mean `{suggestion}`?"), error


def test_a_far_miss_lists_the_commands() -> None:
    error = invoke("--json", "db", "zzzzzz").error()
    assert error["message"].endswith("its commands: path, upgrade")


# -- the review app needs a terminal -------------------------------------------------------


@pytest.mark.parametrize("extra", [(), ("--json",), ("--read-only",)])
def test_the_review_app_without_a_terminal_says_what_to_use(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    with open("/dev/null") as devnull:
        done = subprocess.run(
            [*entry_point(), "--db", str(tmp_path / "d.db"), *extra],
            stdin=devnull,
            capture_output=True,
            text=True,
            env=clean_env(),
            timeout=60,  # before the fix it hung here until killed
            check=False,
        )
    assert done.returncode == 2
    assert done.stdout == ""  # no alternate-screen escapes in the pipe
    if "--json" in extra:
        error = json.loads(done.stderr)["error"]
        assert error["code"] == "validation" and error["message"] == NEEDS_TERMINAL
    else:
        assert done.stderr.splitlines()[0] == f"error[validation]: {NEEDS_TERMINAL}"
    assert not (tmp_path / "d.db").exists()  # refused before opening anything


def test_json_refuses_the_review_app_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parkbench.tui.cli, "has_terminal", lambda: True)
    done = invoke("--json")
    assert done.code == 2 and done.stdout == ""
    assert done.error()["message"] == NEEDS_TERMINAL


# -- shell completion ----------------------------------------------------------------------


def test_completion_options_are_offered() -> None:
    page = invoke("--help").stdout
    assert "--install-completion" in page and "--show-completion" in page


def test_completion_answers_through_the_environment_protocol() -> None:
    env = clean_env(
        _PARKBENCH_COMPLETE="complete_bash", COMP_WORDS="parkbench lease c", COMP_CWORD="2"
    )
    done = subprocess.run(
        [*entry_point()], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["claim", "complete"]


# -- -v / -q -------------------------------------------------------------------------------


def _fake_module(monkeypatch: pytest.MonkeyPatch, name: str, **attrs: object) -> None:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
    for key, value in attrs.items():
        setattr(module, key, value)
    monkeypatch.setitem(sys.modules, name, module)


@pytest.fixture
def chatty(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lazy command that logs through a core logger at INFO and DEBUG."""

    def register(app: typer.Typer) -> None:
        @app.command("chatty")
        def chatty() -> None:
            log = logging.getLogger("parkbench.core.chatty")
            log.info("an info line")
            log.debug("a debug line")

    monkeypatch.setattr(parkbench.tui.cli, "LAZY_COMMANDS", ("chatty",))
    _fake_module(monkeypatch, "parkbench.tui.cli.chatty", register=register)


@pytest.mark.usefixtures("chatty")
def test_verbose_gives_core_loggers_a_stderr_handler() -> None:
    quiet = invoke("chatty")
    assert quiet.code == 0 and "line" not in quiet.stderr
    info = invoke("-v", "chatty")
    assert "INFO parkbench.core.chatty: an info line" in info.stderr
    assert "debug line" not in info.stderr and info.stdout == ""
    debug = invoke("-vv", "chatty")
    assert "an info line" in debug.stderr and "DEBUG parkbench.core.chatty: a debug line" in (
        debug.stderr
    )
    assert "line" not in invoke("chatty").stderr  # the handler goes with the run


def test_quiet_drops_notes_but_never_errors(tmp_path: Path) -> None:
    db = str(tmp_path / "q.db")
    Store.open(db).close()  # lease claim never creates a database
    noted = invoke("--db", db, "lease", "claim", "--worker", "w1")
    assert noted.code == 0 and "nothing to claim" in noted.stderr
    hushed = invoke("-q", "--db", db, "lease", "claim", "--worker", "w1")
    assert hushed.code == 0 and hushed.stderr == ""
    failed = invoke("-q", "--db", db, "show", "999")
    assert failed.code == 4 and failed.stderr.startswith("error[not_found]")


def test_quiet_keeps_the_debug_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from parkbench.core.store import Store

    def broken(self: Store) -> None:
        raise RuntimeError("something nobody planned for")

    monkeypatch.setattr(Store, "counts_by_status", broken)
    Store.open(str(tmp_path / "t.db")).close()
    done = invoke("-q", "--db", str(tmp_path / "t.db"), "stats", env={"PARKBENCH_DEBUG": "1"})
    assert done.code == 1 and "Traceback (most recent call last)" in done.stderr
    assert "error[internal]: unexpected RuntimeError" in done.stderr


def test_verbose_and_quiet_together_are_refused() -> None:
    done = invoke("--json", "-v", "-q", "stats")
    assert done.code == 2 and "contradict" in done.error()["message"]


# -- the config file and profiles ----------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return {"PARKBENCH_CONFIG": str(path)}


def db_path(*args: str, env: dict[str, str | None]) -> dict[str, object]:
    done = invoke(*args, "--json", "db", "path", env=env)
    assert done.code == 0, done.stderr
    return done.json()  # type: ignore[return-value]


def test_precedence_db_flag_env_profile_config_default(tmp_path: Path) -> None:
    env: dict[str, str | None] = write_config(
        tmp_path,
        'db = "/srv/from-config.db"\n'
        '[profiles.team]\ndb = "postgresql+psycopg://reviewer:s3cret@db.internal/parkbench"\n',
    )
    config = env["PARKBENCH_CONFIG"]
    default = db_path(env=env)
    assert (default["path"], default["source"], default["config"]) == (
        "/srv/from-config.db",
        "config",
        config,
    )
    team = db_path("--profile", "team", env=env)
    assert team["url"] == "postgresql+psycopg://reviewer:***@db.internal/parkbench"
    assert (team["source"], team["profile"], team["config"]) == ("profile", "team", config)
    env["PARKBENCH_DB"] = "/srv/from-env.db"
    from_env = db_path("--profile", "team", env=env)
    assert (from_env["path"], from_env["source"]) == ("/srv/from-env.db", "PARKBENCH_DB")
    flag = db_path("--profile", "team", "--db", "/srv/flag.db", env=env)
    assert (flag["path"], flag["source"], flag["profile"]) == ("/srv/flag.db", "--db", None)


def test_the_config_names_a_default_profile(tmp_path: Path) -> None:
    env: dict[str, str | None] = write_config(
        tmp_path, 'db = "/srv/a.db"\nprofile = "ci"\n[profiles.ci]\ndb = "/srv/ci.db"\n'
    )
    chosen = db_path(env=env)
    assert (chosen["path"], chosen["profile"]) == ("/srv/ci.db", "ci")


def test_a_relative_path_in_the_config_is_relative_to_the_file(tmp_path: Path) -> None:
    env: dict[str, str | None] = write_config(tmp_path, 'db = "data/p.db"\n')
    assert db_path(env=env)["path"] == str(tmp_path / "data" / "p.db")


def test_no_config_file_means_the_built_in_default(tmp_path: Path) -> None:
    env: dict[str, str | None] = {"PARKBENCH_CONFIG": str(tmp_path / "absent.toml")}
    chosen = db_path(env=env)
    assert (chosen["source"], chosen["config"], chosen["profile"]) == ("default", None, None)
    human = invoke("db", "path", env=env)
    assert human.code == 0 and human.stdout.strip() == chosen["path"]
    assert f"config file: {tmp_path / 'absent.toml'} (absent)" in human.stderr


def test_commands_really_use_the_profile_database(tmp_path: Path) -> None:
    team_db = tmp_path / "team.db"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    made = invoke("--db", str(team_db), "--json", "enqueue", "t1", "--workspace", str(workspace))
    assert made.code == 0, made.stderr
    env: dict[str, str | None] = write_config(
        tmp_path, f'[profiles.team]\ndb = "sqlite:///{team_db}"\n'
    )
    listed = invoke("--profile", "team", "--json", "list", "--status", "all", env=env)
    assert listed.code == 0, listed.stderr
    assert [run["title"] for run in listed.json()["runs"]] == ["t1"]  # type: ignore[index]
    human = invoke("--profile", "team", "db", "path", env=env)
    assert "chosen by: profile team" in human.stderr


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("db = [", "is not valid TOML"),
        ('dbs = "x"', "unknown key(s) dbs"),
        ("db = 5", "db must be a non-empty string"),
        ('[profiles.team]\nurl = "x"', "[profiles.team] must hold exactly db"),
        ('profile = "ghost"', "names no [profiles.ghost] table"),
    ],
)
def test_a_bad_config_file_is_a_validation_error_naming_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    env: dict[str, str | None] = write_config(tmp_path, text)
    done = invoke("--json", "list", env=env)
    assert done.code == 2 and done.stdout == ""
    error = done.error()
    assert error["code"] == "validation"
    assert error["message"].startswith(f"config file {env['PARKBENCH_CONFIG']}: ")
    assert problem in error["message"]
    assert "PARKBENCH_CONFIG" in error["hint"]


def test_an_unknown_profile_names_the_known_ones(tmp_path: Path) -> None:
    env: dict[str, str | None] = write_config(tmp_path, '[profiles.team]\ndb = "/srv/t.db"\n')
    error = invoke("--json", "--profile", "tema", "list", env=env).error()
    assert error["code"] == "validation" and "no profile 'tema'" in error["message"]
    assert "profiles defined: team" in error["hint"]


def test_db_flag_never_reads_the_config_file(tmp_path: Path) -> None:
    env: dict[str, str | None] = write_config(tmp_path, "db = [")  # broken, but not needed
    assert db_path("--db", str(tmp_path / "x.db"), env=env)["source"] == "--db"
