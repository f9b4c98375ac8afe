"""``reagents serve`` for real: a subprocess serving a pipeline, probed over HTTP, stopped
by Ctrl-C; and the settings it refuses before loading anything."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from reagents.cli import app
from reagents.events import AgentEvent, encode_event
from reagents.server.settings import TOKENS_ENV, TOKENS_FILE_ENV

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SRC = Path(__file__).resolve().parents[2] / "src"
LISTENING = re.compile(
    r"serving pipeline '(?P<name>[^']+)' on (?P<url>http://\S+) · (?P<auth>[^·]+)"
)
SECRET = "s3cret-token-that-is-long-enough"

ECHO = """\
from pathlib import Path

from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.file import FileSink
from reagents.sources.file import FileSource

HERE = Path(__file__).parent

pipeline = Pipeline("echo", dead_letters=HERE / "dead.jsonl")
pipeline.add_source(
    FileSource(HERE / "inbox.jsonl", follow=True, checkpoint_path=HERE / "inbox.cp")
)
pipeline.add_sink(FileSink(HERE / "out.jsonl", subscription="type = pong", name="out"))


@pipeline.agent(subscription="type = ping")
def ponger(event):
    return event.derive("pong", {"n": event.payload["n"] * 10})
"""


BROKEN = """\
from reagents.pipelines.pipeline import Pipeline
from reagents.sources.base import Source


class Broken(Source):
    name = "broken"

    async def batches(self):
        raise OSError("disk on fire")
        yield []


pipeline = Pipeline("broken", sources=[Broken()])
"""

SLOW = """\
import asyncio
from pathlib import Path

from reagents.pipelines.pipeline import Pipeline
from reagents.sources.file import FileSource

HERE = Path(__file__).parent

pipeline = Pipeline("slow", drain_timeout=60)
pipeline.add_source(
    FileSource(HERE / "inbox.jsonl", follow=True, checkpoint_path=HERE / "inbox.cp")
)


@pipeline.agent(subscription="type = ping")
async def sleeper(event):
    (HERE / "started").touch()
    await asyncio.sleep(60)
"""


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ")
    return line


@contextmanager
def serving(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], re.Match[str]]]:
    """``reagents serve ARGS --port 0`` in a subprocess; yields it and its listening line."""
    environment = {**os.environ, "PYTHONPATH": str(SRC), **(env or {})}
    for name in (TOKENS_ENV, TOKENS_FILE_ENV):
        if env is None or name not in env:
            environment.pop(name, None)
    command = [sys.executable, "-m", "reagents.cli", "serve", *map(str, args), "--port", "0"]
    with subprocess.Popen(
        command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = LISTENING.match(line)
            if found is None:
                proc.kill()
                pytest.fail(f"no listening line: {line!r}; stderr: {proc.communicate()[1]}")
            yield proc, found
        finally:
            if proc.poll() is None:
                proc.kill()


def stop(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C, and what it printed after its first line."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=60)


def wait_for(predicate: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def wait_until_still(*paths: Path, quiet: float = 1.5) -> None:
    """Wait until ``paths`` exist and none has grown for ``quiet`` seconds (input read)."""
    sizes: list[int] = []
    still_since = time.monotonic()
    deadline = still_since + 60
    while True:
        now = [path.stat().st_size if path.exists() else -1 for path in paths]
        if now != sizes or -1 in now:
            sizes, still_since = now, time.monotonic()
        elif time.monotonic() - still_since >= quiet:
            return
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def has_lines(path: Path, count: int) -> bool:
    return len(lines_of(path)) == count


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.integration
@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
def test_serves_events_as_they_come_and_drains_on_ctrl_c(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(ECHO)
    inbox = tmp_path / "inbox.jsonl"
    inbox.touch()
    with serving("echo.py", cwd=tmp_path) as (proc, found):
        assert found["name"] == "echo"
        assert found["url"].startswith("http://127.0.0.1:")
        assert "auth: off (no tokens; loopback only)" in found["auth"]
        with httpx.Client(base_url=found["url"], timeout=10) as client:
            assert client.get("/healthz").json() == {"status": "ok"}
            assert client.get("/readyz").json()["ready"] is True
            for n in (1, 2):  # events arrive while it serves; each is handled at once
                with inbox.open("ab") as log:
                    log.write(encode_event(AgentEvent(event_type="ping", payload={"n": n})))
                    log.write(b"\n")
                wait_for(partial(has_lines, tmp_path / "out.jsonl", n))
            assert client.get("/readyz").status_code == 200
        _, err = stop(proc)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    pongs = [json.loads(line)["payload"]["n"] for line in lines_of(tmp_path / "out.jsonl")]
    assert pongs == [10, 20]
    assert not (tmp_path / "dead.jsonl").exists()


@pytest.mark.integration
@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
def test_serves_the_trading_example_and_drains_it_like_a_run(tmp_path: Path) -> None:
    """A served pipeline flushes its windows when Ctrl-C drains it: the same bytes as a run."""
    sys.path.insert(0, str(EXAMPLES))
    try:
        import trading
    finally:
        sys.path.remove(str(EXAMPLES))
    direct = tmp_path / "direct"
    asyncio.run(trading.build_pipeline(out_dir=direct).run())
    served = tmp_path / "out" / "trading"
    with serving(EXAMPLES / "trading.py:build_pipeline", cwd=tmp_path) as (proc, found):
        assert found["name"] == "trading"
        with httpx.Client(base_url=found["url"], timeout=10) as client:
            assert client.get("/readyz").json()["ready"] is True
        wait_until_still(served / trading.VWAP_FILE, served / trading.SIGNALS_FILE)
        before = len(lines_of(served / trading.VWAP_FILE))
        _, err = stop(proc)
    assert proc.returncode == 0, err
    for name in (trading.SIGNALS_FILE, trading.VWAP_FILE):
        assert (served / name).read_bytes() == (direct / name).read_bytes(), name
    assert before < len(lines_of(served / trading.VWAP_FILE))  # the drain flushed windows


@pytest.mark.integration
@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
def test_says_auth_is_on_without_printing_tokens(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(ECHO)
    (tmp_path / "inbox.jsonl").touch()
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps([{"name": "ops", "token": SECRET, "scopes": ["read"]}]))
    env = {TOKENS_ENV: json.dumps([{"name": "ci", "token": "c" * 20, "scopes": ["publish"]}])}
    with serving("echo.py", "--tokens-file", tokens, cwd=tmp_path, env=env) as (proc, found):
        assert "auth: bearer tokens (2 configured)" in found["auth"]
        out, err = stop(proc)
    assert proc.returncode == 0, err
    assert SECRET not in found.string + out + err
    assert "c" * 20 not in found.string + out + err


def test_refuses_a_public_address_without_tokens_before_loading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    monkeypatch.delenv(TOKENS_FILE_ENV, raising=False)
    result = cli("serve", tmp_path / "missing.py", "--host", "0.0.0.0")
    assert result.exit_code == 2
    line = error_line(result)
    assert "refusing to listen on 0.0.0.0 without tokens" in line
    assert "--insecure" in line
    # with --insecure the settings pass, so the next problem is the missing file
    insecure = cli("serve", tmp_path / "missing.py", "--host", "0.0.0.0", "--insecure")
    assert insecure.exit_code == 2
    assert "does not exist" in error_line(insecure)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{nope", "not JSON"),
        ('[{"name": "x", "token": "short"}]', "shorter than 16"),
        (None, "is not a file"),
    ],
)
def test_bad_tokens_file_is_one_line_without_secrets(
    tmp_path: Path, content: str | None, fragment: str
) -> None:
    tokens = tmp_path / "tokens.json"
    if content is not None:
        tokens.write_text(content)
    result = cli("serve", tmp_path / "missing.py", "--tokens-file", tokens, env={TOKENS_ENV: ""})
    assert result.exit_code == 2
    assert fragment in error_line(result)


def test_without_the_extra_it_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [
        m for m in sys.modules if m == "reagents.server" or m.startswith("reagents.server.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    result = cli("serve", tmp_path / "app.py")
    assert result.exit_code == 2
    assert "pip install 'reagents[server]'" in error_line(result)


def test_the_other_commands_do_not_import_the_server() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["fastapi"] = None  # as if the extra were not installed
        from reagents.cli import app
        assert not [m for m in sys.modules if m.startswith("reagents.server")]
        """
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_help_fits_80_columns() -> None:
    result = cli("serve", "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    for option in ("--host", "--port", "--insecure", "--tokens-file", "reagents serve"):
        assert option in result.stdout


def test_a_pipeline_that_fails_while_serving_stops_the_server(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(BROKEN)
    result = cli("serve", tmp_path / "broken.py", "--port", "0")
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert "broken" in line
    assert "disk on fire" in line


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(ECHO)
    (tmp_path / "inbox.jsonl").touch()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("serve", tmp_path / "echo.py", "--port", str(port))
    assert result.exit_code == 1, result.output
    line = error_line(result)
    assert line.startswith("error: cannot serve:")
    assert str(port) in line


@pytest.mark.integration
@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
def test_a_second_ctrl_c_aborts_the_drain(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    inbox = tmp_path / "inbox.jsonl"
    inbox.write_bytes(encode_event(AgentEvent(event_type="ping")) + b"\n")
    with serving("slow.py", cwd=tmp_path) as (proc, _):
        wait_for((tmp_path / "started").exists)
        proc.send_signal(signal.SIGINT)  # drains: waits for the sleeping agent
        time.sleep(0.5)
        assert proc.poll() is None
        started = time.monotonic()
        _, err = stop(proc)
    assert proc.returncode == 130, err
    assert time.monotonic() - started < 10
