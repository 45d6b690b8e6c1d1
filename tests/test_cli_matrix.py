"""Every CLI command × a matrix of broken environments: one-line errors, exact exit codes.

The commands come from the click tree itself, so a command added tomorrow joins the matrix
without anyone editing this file. COMMANDS gives the known ones a minimal argument set, the
resources they touch and their exit code in a healthy environment; from those the expected
code in each broken environment follows (a config fault → 2 for whatever reads the config, a
database-URL fault → 2 and a database-file fault → 3 for whatever opens the database, ...). A
command missing from COMMANDS is run with no arguments and must fail (or succeed) cleanly.

Most cells run in-process through click's entry point (fast); the commands that run servers,
daemons or crawl processes, the environments that need real file permissions (unreadable
config, read-only folder: run without root's permission-bypassing capabilities), and one
command per environment run as real `python -m crawler` subprocesses, in parallel.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crawler.cli import main
from crawler.storage.db import Database

REPO = Path(__file__).resolve().parents[1]
DOCUMENTED = {0, 1, 2, 3, 4}  # README's exit-code table
CONFIG, DB, CHECKS_DB, CREATES, MATCHER = "config", "db", "checks_db", "creates", "matcher"
CAN_DROP_PRIVILEGES = os.geteuid() != 0 or shutil.which("setpriv") is not None
# Root reads any file; without CAP_DAC_OVERRIDE/READ_SEARCH it obeys permissions like anyone.
AS_UNPRIVILEGED = (
    ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]
    if os.geteuid() == 0
    else []
)


@dataclass(frozen=True)
class Spec:
    """How to run one known command: arguments, what it touches, its healthy exit code."""

    args: tuple[str, ...] = ()
    touches: frozenset[str] = frozenset()
    ok: int = 0
    subprocess: bool = False  # servers, daemons and crawls run only as real processes


def spec(*args: str, touches: str = "", ok: int = 0, subprocess: bool = False) -> Spec:
    return Spec(tuple(args), frozenset(touches.split()), ok, subprocess)


# {page}, {labelled} and {port} are filled in per run. Group commands without a subcommand
# print their help (click exits 2 for a group called without one).
COMMANDS: dict[str, Spec] = {
    "alerts": spec(touches="config db"),
    "alerts retry": spec("1", touches="config db", ok=1),  # no alert 1 in an empty outbox
    "alerts send": spec(touches="config db"),
    "check": spec("{page}", touches="config matcher"),
    "config": spec(ok=2),
    "config check": spec(touches="config matcher checks_db"),
    "crawl": spec(
        "--source",
        "offline",
        "--timeout",
        "2m",
        touches="config matcher db creates",
        ok=1,
        subprocess=True,
    ),
    "db": spec(ok=2),
    "db upgrade": spec(touches="config db creates"),
    "eval": spec("{labelled}", touches="config matcher"),
    "matches": spec(touches="config db"),
    "matches export": spec("--labelled", touches="config db"),
    "matches label": spec("1", "relevant", touches="config db", ok=1),
    "matches show": spec("1", touches="config db", ok=1),
    "rematch": spec(touches="config matcher db"),
    "run": spec("--once", touches="config matcher db creates", subprocess=True),
    "slack": spec(ok=2),
    "slack test": spec(touches="config", ok=1),  # no token or webhook in the environment
    "sources": spec(touches="config db"),
    "sources add": spec("http://127.0.0.1:9/", "--print", ok=1),  # --print: no config read
    "sources test": spec("no-such-source", touches="config", ok=2),
    "status": spec(touches="config db"),
    "web": spec("--port", "{port}", touches="config db", ok=2, subprocess=True),  # port busy
}


def command_paths(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command and subcommand in the click tree, hidden ones included."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield " ".join(path)
        if isinstance(command, click.Group):
            yield from command_paths(command, path)


@dataclass
class Env:
    """A broken (or healthy) environment: its config file and the fault it carries."""

    name: str
    fault: str  # none | config | db_url | db_file | db_missing | pack
    code: int  # the exit code a command touching the fault must give
    config: Callable[[str], Path]  # command slug → config path (fresh where it must be)
    unprivileged: bool = False  # needs real permissions: subprocess without root's bypass
    lines: int = 1  # error lines expected on stderr


@dataclass
class World:
    """The files every environment is built from, made once per module."""

    root: Path
    port: int
    page: Path
    labelled: Path
    envs: dict[str, Env] = field(default_factory=dict)


SOURCE = """
[[sources]]
name = "offline"
kind = "feed"
enabled = false
urls = ["http://127.0.0.1:9/feed.xml"]
allow_private_hosts = ["127.0.0.1"]
"""


def _config(path: Path, db_url: str, extra: str = "") -> Path:
    path.write_text(f'[database]\nurl = "{db_url}"\n{extra}{SOURCE}', encoding="utf-8")
    return path


def _fixed(path: Path) -> Callable[[str], Path]:
    return lambda _slug: path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("matrix")
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    page = root / "page.txt"
    page.write_text("Agents detained a man at the county courthouse on Tuesday.\n")
    labelled = root / "labelled.jsonl"
    labelled.write_text('{"id": "one", "labels": [], "text": "A quiet day at the fair."}\n')
    w = World(root, busy.getsockname()[1], page, labelled)
    healthy_db = root / "healthy.db"
    Database(f"sqlite:///{healthy_db}").dispose()
    ok_url = f"sqlite:///{healthy_db}"

    def env(name: str, fault: str, code: int, config: Callable[[str], Path], **kw: int) -> None:
        w.envs[name] = Env(name, fault, code, config, **kw)  # type: ignore[arg-type]

    env("healthy", "none", 0, _fixed(_config(root / "healthy.toml", ok_url)))
    bad = root / "bad.toml"
    bad.write_text("[database\nurl = 'x'\n")
    env("bad_toml", "config", 2, _fixed(bad))
    env("missing_config", "config", 2, _fixed(root / "absent.toml"))
    unreadable = _config(root / "unreadable.toml", ok_url)
    unreadable.chmod(0)
    env("unreadable_config", "config", 2, _fixed(unreadable), unprivileged=True)
    invalid = root / "invalid.toml"
    invalid.write_text(f'[crawl]\nconcurrent_requests = 0\nuser_agnt = "x"\n{SOURCE}')
    env("two_bad_settings", "config", 2, _fixed(invalid), lines=2)
    env("db_not_a_url", "db_url", 2, _fixed(_config(root / "u1.toml", "not a url")))
    env("db_unknown_dialect", "db_url", 2, _fixed(_config(root / "u2.toml", "nosuchdb://x/y")))
    env("db_no_driver", "db_url", 2, _fixed(_config(root / "u3.toml", "mysql://u@127.0.0.1/x")))
    garbage = root / "garbage.db"
    garbage.write_bytes(b"this is not a database, " * 100)
    env("db_not_sqlite", "db_file", 3, _fixed(_config(root / "f1.toml", f"sqlite:///{garbage}")))
    under = f"sqlite:///{page}/sub/x.db"  # page.txt is a regular file
    env("db_under_a_file", "db_file", 3, _fixed(_config(root / "f2.toml", under)))
    pg = "postgresql+psycopg://nobody@127.0.0.1:9/none"  # nothing listens on port 9
    env("db_unreachable", "db_file", 3, _fixed(_config(root / "f3.toml", pg)))
    (root / "missing").mkdir()

    def missing(slug: str) -> Path:  # a fresh absent file per command: creators create theirs
        return _config(root / "missing" / f"{slug}.toml", f"sqlite:///{root}/missing/{slug}.db")

    env("db_missing", "db_missing", 3, missing)
    pack = 'topic_packs = ["no-such-pack.toml"]\n'
    env("missing_pack", "pack", 2, _fixed(_config(root / "p.toml", ok_url, f"[matching]\n{pack}")))
    ro = root / "readonly"
    ro.mkdir()
    ro_db = ro / "ro.db"
    Database(f"sqlite:///{ro_db}").dispose()  # the last close removes -wal and -shm
    ro_config = _config(ro / "newswatch.toml", f"sqlite:///{ro_db}")
    ro.chmod(0o555)
    env("readonly_dir", "db_file", 3, _fixed(ro_config), unprivileged=True)
    try:
        yield w
    finally:
        busy.close()
        ro.chmod(0o755)


def _command(path: str) -> click.Command:
    command: click.Command = main
    for name in path.split():
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def expected(spec_: Spec | None, env: Env) -> int | None:
    """The documented exit code of a known command in `env` (None: unknown command)."""
    if spec_ is None:
        return None
    t = spec_.touches
    if env.fault == "config" and CONFIG in t:
        return env.code
    if env.fault in ("db_url", "db_file") and (DB in t or CHECKS_DB in t):
        return env.code
    if env.fault == "db_missing" and DB in t and CREATES not in t:
        return env.code
    if env.fault == "pack" and MATCHER in t:
        return env.code
    return spec_.ok


Cell = tuple[str, "Env"]


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    crashed: str = ""  # an exception that escaped click (an in-process traceback)


def _argv(path: str, env: Env, w: World) -> list[str]:
    known = COMMANDS.get(path, Spec())
    args = [a.format(page=w.page, labelled=w.labelled, port=w.port) for a in known.args]
    return ["--config", str(env.config(path.replace(" ", "-"))), *path.split(), *args]


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "NEWSWATCH_"))}
    return env | {"COLUMNS": "200", "NO_COLOR": "1"}


def run_in_process(argv: list[str]) -> Outcome:
    secrets = {k: None for k in os.environ if k.startswith(("SLACK_", "NEWSWATCH_"))}
    result = CliRunner(env=secrets).invoke(main, argv, catch_exceptions=True)
    crashed = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crashed = f"{type(result.exception).__name__}: {result.exception}"
    return Outcome(result.exit_code, result.stdout, result.stderr, crashed)


def run_subprocess(argv: list[str], *, unprivileged: bool, timeout: float = 90) -> Outcome:
    """`python -m crawler ARGV` in its own process group (killed whole if it overruns)."""
    cmd = [*(AS_UNPRIVILEGED if unprivileged else []), sys.executable, "-m", "crawler", *argv]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_clean_env(),
        cwd=REPO, start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return Outcome(
            -1, "", "", f"did not finish within {timeout:g} s: if it serves or runs until "
            "stopped, give it a minimal argument set in COMMANDS (tests/test_cli_matrix.py)",
        )  # fmt: skip
    return Outcome(proc.returncode, stdout, stderr)


def problems(path: str, env: Env, out: Outcome, want: int | None) -> list[str]:
    """What is wrong with one cell (empty when it behaved as documented)."""
    found: list[str] = []
    where = f"`newswatch {path}` in {env.name}"
    if out.crashed:
        found.append(f"{where}: {out.crashed}")
    if "Traceback" in out.stdout + out.stderr:
        found.append(f"{where}: printed a traceback:\n{out.stderr[-1500:]}")
    if want is not None and out.code != want:
        found.append(f"{where}: exit {out.code}, documented {want}; stderr: {out.stderr[-600:]}")
    if out.code not in DOCUMENTED:
        found.append(f"{where}: exit {out.code} is not a documented exit code")
    errors = [line for line in out.stderr.splitlines() if line.strip()]
    group_help = isinstance(_command(path), click.Group) and out.stderr.startswith("Usage:")
    if out.code != 0 and not group_help:
        many = env.lines if env.fault == "config" else 1  # every config problem, one line each
        if want is None:
            fine = 1 <= len(errors) <= many
        else:
            fine = len(errors) == (many if want == env.code else 1)
        if not fine or not all(e.startswith("error: ") for e in errors):
            found.append(f"{where}: expected {many} 'error: …' line(s) on stderr, got {errors!r}")
        if any("a bug in newswatch" in e for e in errors):
            found.append(f"{where}: fell through to the catch-all: {errors!r}")
    return found


# Unknown commands run as real processes (they might serve forever when healthy) in these.
UNKNOWN_ENVS = (
    "bad_toml", "two_bad_settings", "db_unknown_dialect", "db_not_sqlite", "db_missing",
    "missing_pack",
)  # fmt: skip


def plan(w: World) -> tuple[list[Cell], list[Cell], dict[str, list[Cell]]]:
    """Split the matrix: in-process cells, real-process cells, unprivileged batches per env."""
    inproc: list[Cell] = []
    real: list[Cell] = []
    batches: dict[str, list[Cell]] = {}
    for path in command_paths():
        known = COMMANDS.get(path)
        for env in w.envs.values():
            if known is None:
                if env.name in UNKNOWN_ENVS:
                    real.append((path, env))
            elif env.unprivileged:
                batches.setdefault(env.name, []).append((path, env))
            elif path == "run" or (known.subprocess and expected(known, env) == known.ok):
                real.append((path, env))  # `run` once per environment through the real entry
            else:
                inproc.append((path, env))
    return inproc, real, batches


def run_batch(argvs: list[list[str]], work: Path) -> list[Outcome]:
    """Run click's entry point for each argv in ONE unprivileged process (this file as a script)."""
    job = work / f"batch-{len(list(work.glob('batch-*')))}.json"
    job.write_text(json.dumps(argvs))
    cmd = [*AS_UNPRIVILEGED, sys.executable, __file__, str(job)]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=180, env=_clean_env(), cwd=REPO, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [Outcome(**o) for o in json.loads(proc.stdout.splitlines()[-1])]


@pytest.mark.slow
def test_every_command_in_every_broken_environment(world: World) -> None:
    if not CAN_DROP_PRIVILEGES:
        pytest.skip("running as root without setpriv: cannot test unreadable files")
    paths = list(command_paths())
    assert len(paths) >= 20, paths
    inproc, real, batches = plan(world)
    results: list[tuple[Cell, Outcome]] = []
    with ThreadPoolExecutor(3) as pool:
        futures = [
            (cell, pool.submit(run_subprocess, _argv(*cell, world), unprivileged=False,
                               timeout=90 if cell[0] in COMMANDS else 30))
            for cell in real
        ]  # fmt: skip
        batch_futures = [
            (cells, pool.submit(run_batch, [_argv(*c, world) for c in cells], world.root))
            for cells in batches.values()
        ]
        for cell in inproc:
            results.append((cell, run_in_process(_argv(*cell, world))))
        results += [(cell, f.result()) for cell, f in futures]
        for cells, f in batch_futures:
            results += list(zip(cells, f.result(), strict=True))
    assert len(results) == len(inproc) + len(real) + sum(map(len, batches.values()))
    failures = [
        problem
        for (path, env), out in results
        for problem in problems(path, env, out, expected(COMMANDS.get(path), env))
    ]
    assert not failures, "\n".join(failures)
    # Read-only commands left no database behind; the creators made theirs.
    made = {x.stem for x in (world.root / "missing").glob("*.db")}
    known = {p.replace(" ", "-"): COMMANDS[p] for p in paths if p in COMMANDS}
    assert {slug for slug in made if slug in known} == {
        slug for slug, spec_ in known.items() if CREATES in spec_.touches
    }


def test_the_table_names_only_real_commands() -> None:
    """COMMANDS may lag behind the tree (new commands still run), never name a ghost."""
    tree = set(command_paths())
    assert not [p for p in COMMANDS if p not in tree]


if __name__ == "__main__":  # the unprivileged batch runner: argv lists in, outcomes out
    from dataclasses import asdict

    jobs = json.loads(Path(sys.argv[1]).read_text())
    print(json.dumps([asdict(run_in_process(argv)) for argv in jobs]))
