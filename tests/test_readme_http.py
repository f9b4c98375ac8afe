"""The README's curl session runs as written against `reagents serve`, answer by answer.

The session follows ``<!-- curl-session -->``: each ``curl`` command (with its ``\\``
continuation lines) runs in bash against a real server on a free port, and the ``#``
line after it is the answer it must print, ``...`` standing for any text. The pipeline
reacts asynchronously, so an answer may take a moment to become true: each command is
repeated for up to a few seconds until it prints what the README says.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SESSION = re.compile(r"<!-- curl-session -->\n```bash\n(.*?)```", re.DOTALL)


def session() -> list[tuple[str, str | None]]:
    """(command, expected answer or None) in README order."""
    found = SESSION.search(README.read_text())
    assert found, "the README lost its curl session"
    steps: list[tuple[str, str | None]] = []
    lines = iter(found.group(1).splitlines())
    for line in lines:
        if line.startswith("# "):
            command, _ = steps[-1]
            steps[-1] = (command, line[2:])
            continue
        command = line
        while command.endswith("\\"):
            command += "\n" + next(lines)
        steps.append((command, None))
    return steps


def _pattern(expected: str) -> re.Pattern[str]:
    return re.compile(".*".join(map(re.escape, expected.split("..."))), re.DOTALL)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    command = [str(Path(sys.executable).parent / "reagents"), "serve"]
    command += [str(ROOT / "examples" / "order_service.py"), "--port", str(port)]
    server = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL)
    url = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://{url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, "reagents serve ended before it listened"
            assert time.monotonic() < deadline, "reagents serve did not listen within 30 s"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        assert server.wait(timeout=30) == 0


def test_the_session_is_there() -> None:
    steps = session()
    assert len(steps) >= 8
    assert all(command.startswith("curl") for command, _ in steps)


@pytest.mark.integration
def test_the_curl_session_answers_as_the_readme_says(served: str) -> None:
    assert shutil.which("curl"), "curl is needed for this test (Debian: apt-get install curl)"
    for command, expected in session():
        line = command.replace("localhost:8000", served)
        deadline = time.monotonic() + 5
        while True:
            done = subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=30)
            assert done.returncode == 0, f"{command}\nfailed: {done.stderr}"
            if expected is None or _pattern(expected).fullmatch(done.stdout.strip()):
                break
            assert time.monotonic() < deadline, (
                f"{command}\nprinted:  {done.stdout.strip()[:400]}\nREADME says: {expected}"
            )
            time.sleep(0.2)
