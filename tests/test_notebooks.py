"""Every notebook in notebooks/ runs top to bottom in a fresh kernel, and is committed clean.

Each notebook is executed with nbclient (as ``pytest --nbmake notebooks/`` would), from
the notebooks folder, with matplotlib's non-interactive Agg backend. A cell that
raises fails the test with the cell and the traceback.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 60  # seconds; each notebook takes a few seconds in all


def test_there_are_notebooks() -> None:
    assert [path.name for path in NOTEBOOKS][:8] == [
        "01_quickstart.ipynb",
        "02_subscriptions.ipynb",
        "03_marble_testing.ipynb",
        "04_backpressure_priority_retries.ipynb",
        "05_sagas.ipynb",
        "06_kafka.ipynb",
        "07_flows.ipynb",
        "08_llm_agents.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    dirty = [
        index
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert dirty == [], f"{path.name}: clear the outputs of cells {dirty} before committing"


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # inherited by the kernel process
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # silence jupyter_core's path notice
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # no debugger warning
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    # On a loop of our own, closed afterwards, that does not replace this thread's event
    # loop: client.execute() (or asyncio.run) would set another one, and the loop looptime's
    # pytest plugin had created for this test would be dropped unclosed (ResourceWarning).
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(client.async_execute())  # raises CellExecutionError
    finally:
        loop.close()
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.output_type == "error"
    ]
    assert errors == []
