"""The version of reagents: one place, read by the package, the CLI and the build."""

__all__ = ["__version__"]

__version__ = "0.1.0"
