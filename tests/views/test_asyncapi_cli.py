"""``reagents asyncapi``: the document on stdout or in a file, as JSON or YAML."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reagents.cli import app
from tests.views.asyncapi_check import check_document

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TRADING = f"{EXAMPLES / 'trading.py'}:build_pipeline"


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ")
    return line


def test_writes_json_to_stdout_or_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the example writes its outputs under ./out
    printed = cli("asyncapi", TRADING)
    assert printed.exit_code == 0, printed.output
    document = json.loads(printed.stdout)
    check_document(document)
    assert document["info"]["title"] == "reagents pipeline trading"
    target = tmp_path / "asyncapi.json"
    written = cli("asyncapi", TRADING, "--out", target)
    assert written.exit_code == 0, written.output
    assert written.stdout == ""
    assert json.loads(target.read_text(encoding="utf-8")) == document


def test_yaml_needs_pyyaml_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    result = cli("asyncapi", tmp_path / "missing.py", "--format", "yaml")
    assert result.exit_code == 2
    assert "pip install pyyaml" in error_line(result)


def test_yaml_when_pyyaml_is_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    yaml = pytest.importorskip("yaml")
    monkeypatch.chdir(tmp_path)
    result = cli("asyncapi", TRADING, "--format", "yaml")
    assert result.exit_code == 0, result.output
    check_document(yaml.safe_load(result.stdout))


def test_bad_input_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert "does not exist" in error_line(cli("asyncapi", tmp_path / "nope.py"))
    unwritable = cli("asyncapi", TRADING, "--out", tmp_path / "no" / "such" / "dir.json")
    assert unwritable.exit_code == 2
    assert "cannot write" in error_line(unwritable)
    assert cli("asyncapi", TRADING, "--format", "xml").exit_code == 2


def test_help_fits_80_columns() -> None:
    result = CliRunner().invoke(app, ["asyncapi", "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "reagents asyncapi" in result.stdout
