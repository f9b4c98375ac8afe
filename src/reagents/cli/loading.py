"""Finding the pipeline in a Python file named on the command line (``FILE.py[:NAME]``)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Annotated

import typer

from reagents.cli.console import RUNTIME, CliError
from reagents.errors import ReagentsError
from reagents.pipelines.pipeline import Pipeline

__all__ = [
    "FACTORY_NAMES",
    "PIPELINE_HELP",
    "PipelineArg",
    "PipelineOpt",
    "PipelineRef",
    "load_pipeline",
]

FACTORY_NAMES = ("build_pipeline", "pipeline")

PIPELINE_HELP = (
    "The pipeline: FILE.py or FILE.py:NAME. Without NAME the file's single module-level "
    "Pipeline is used, else its build_pipeline() (or pipeline()) function is called."
)

PipelineArg = Annotated[str, typer.Argument(metavar="FILE.py[:NAME]", help=PIPELINE_HELP)]
PipelineOpt = Annotated[
    str, typer.Option("--pipeline", "-p", metavar="FILE.py[:NAME]", help=PIPELINE_HELP)
]


@dataclass(frozen=True)
class PipelineRef:
    """``FILE.py`` or ``FILE.py:NAME`` from the command line."""

    path: Path
    name: str | None

    @classmethod
    def parse(cls, text: str) -> PipelineRef:
        """Split off ``:NAME`` when it is a Python identifier (so ``C:\\x.py`` stays whole)."""
        head, sep, name = text.rpartition(":")
        if sep and head and name.isidentifier():
            return cls(Path(head), name)
        return cls(Path(text), None)


def load_pipeline(spec: str) -> Pipeline:
    """The pipeline named by ``FILE.py[:NAME]`` (see `PIPELINE_HELP` for the rule).

    Raises:
        CliError: the file is missing or has no (or several) pipelines, or its code
            failed while being loaded.
    """
    ref = PipelineRef.parse(spec)
    module = _load_module(ref.path)
    if ref.name is not None:
        if not hasattr(module, ref.name):
            raise CliError(f"{ref.path} has no attribute {ref.name!r}; {_found(module)}")
        return _as_pipeline(getattr(module, ref.name), ref.name, ref.path)
    pipelines: dict[int, str] = {}
    for name, value in vars(module).items():
        if isinstance(value, Pipeline):
            pipelines.setdefault(id(value), name)
    if len(pipelines) == 1:
        (name,) = pipelines.values()
        return _as_pipeline(getattr(module, name), name, ref.path)
    if len(pipelines) > 1:
        names = ", ".join(pipelines.values())
        first = next(iter(pipelines.values()))
        raise CliError(
            f"{ref.path} defines {len(pipelines)} pipelines ({names}); pick one with "
            f"{ref.path}:{first}"
        )
    factories = [n for n in FACTORY_NAMES if callable(getattr(module, n, None))]
    if len(factories) == 1:
        return _as_pipeline(getattr(module, factories[0]), factories[0], ref.path)
    if factories:
        raise CliError(
            f"{ref.path} defines both {' and '.join(factories)}(); pick one with "
            f"{ref.path}:{factories[0]}"
        )
    raise CliError(
        f"no pipeline in {ref.path}: define a module-level Pipeline or a build_pipeline() "
        f"function, or name one with {ref.path}:NAME; {_found(module)}"
    )


def _load_module(path: Path) -> ModuleType:
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise CliError(f"pipeline file {str(path)!r} {what}")
    if path.suffix != ".py":
        raise CliError(f"pipeline file {str(path)!r} is not a Python file (.py)")
    module_name = "_reagents_pipeline_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[module_name] = module
    try:
        with _user_code(path):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        with suppress(ValueError):
            sys.path.remove(folder)
    return module


def _as_pipeline(value: object, name: str, path: Path) -> Pipeline:
    if isinstance(value, Pipeline):
        return value
    if not callable(value):
        raise CliError(f"{path}:{name} is a {type(value).__name__}, not a Pipeline or a function")
    if inspect.iscoroutinefunction(value):
        raise CliError(f"{path}:{name} is async; make it a plain function returning a Pipeline")
    try:
        inspect.signature(value).bind()
    except TypeError:
        raise CliError(f"{path}:{name}() needs arguments; the CLI calls it with none") from None
    except ValueError:
        pass  # no signature (a builtin): just call it
    with _user_code(path):
        result = value()
    if not isinstance(result, Pipeline):
        raise CliError(f"{path}:{name}() returned {type(result).__name__}, not a Pipeline")
    return result


@contextmanager
def _user_code(path: Path) -> Iterator[None]:
    """Report an error raised by the pipeline file at its line, in one line."""
    try:
        yield
    except (CliError, typer.Exit, KeyboardInterrupt):
        raise
    except SyntaxError as error:
        where = f"{error.filename or path}:{error.lineno}"
        raise CliError(f"{where}: SyntaxError: {error.msg}") from None
    except ReagentsError as error:
        where = _user_line(error.__traceback__, path)
        raise CliError(f"{where}: {type(error).__name__}: {error}") from None
    except Exception as error:
        where = _user_line(error.__traceback__, path)
        raise CliError(f"{where}: {type(error).__name__}: {error}", RUNTIME) from None


def _user_line(tb: TracebackType | None, path: Path) -> str:
    resolved = str(path.resolve())
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if str(Path(frame.f_code.co_filename).resolve()) == resolved:
            line = lineno
    return f"{path}:{line}" if line is not None else str(path)


def _found(module: ModuleType) -> str:
    """The public names the file itself defines (not what it imports), in file order."""
    names = [name for name in _defined_names(module) if not name.startswith("_")]
    if not names:
        return "the file defines nothing public"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"found: {shown}"


def _defined_names(module: ModuleType) -> list[str]:
    """Names bound at the top level of the module's file by def, class or assignment."""
    path = getattr(module, "__file__", None)
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8")) if path else None
    except (OSError, SyntaxError, ValueError):
        tree = None
    if tree is None:  # no source: what is defined in the module itself, not imported
        return [
            name
            for name, value in vars(module).items()
            if getattr(value, "__module__", module.__name__) == module.__name__
            and not isinstance(value, ModuleType)
        ]
    names: dict[str, None] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names[node.name] = None
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names[leaf.id] = None
    return [name for name in names if hasattr(module, name)]
