"""``python -m reagents.cli``: the same as the ``reagents`` console script."""

from reagents.cli import app

if __name__ == "__main__":
    app(prog_name="reagents")
