"""The ``reagents`` console script and ``python -m reagents``.

The command line needs the ``cli`` extra (typer, rich); the library does not. This
entry point imports them only once it has checked they are there, so without the
extra ``reagents`` prints the pip line that adds it (one line, exit code 2) instead
of a traceback.
"""

from __future__ import annotations

import os
import sys

from reagents.extras import CLI_HINT, CLI_MODULES, has_module

__all__ = ["main"]

_USAGE = 2  # reagents.cli.console.USAGE, which cannot be imported without the extra


def main() -> None:
    """Run the ``reagents`` command (or say how to install it)."""
    if not all(has_module(name) for name in CLI_MODULES):
        line = f"error: {CLI_HINT}"
        if sys.stderr.isatty() and "NO_COLOR" not in os.environ:
            line = f"\x1b[1;31m{line}\x1b[0m"  # red, like the command's other errors
        sys.stderr.write(line + "\n")
        raise SystemExit(_USAGE)
    from reagents.cli import app

    app(prog_name="reagents")


if __name__ == "__main__":
    main()
