"""The README's Kafka commands run as written: the trading example over Kafka, then the
replay of the topic it writes (against the test broker instead of 127.0.0.1:9092)."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from reagents.events import decode_event
from reagents.kafka import KafkaConfig
from tests.examples import EXAMPLES

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

README = Path(__file__).resolve().parents[2] / "README.md"


def kafka_block() -> list[str]:
    """The command lines of the README's bash block that starts ``reagents broker``."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    (block,) = [b for b in blocks if b.startswith("reagents broker")]
    return [line.split("  #")[0].strip() for line in block.splitlines()[1:] if line.strip()]


async def test_the_readme_kafka_commands_run_as_written(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    bootstrap = kafka_config.bootstrap_servers
    for line in kafka_block():
        args = shlex.split(line.replace("127.0.0.1:9092", bootstrap))
        if args[0] == "python":
            args = [sys.executable, str(EXAMPLES.parent / args[1]), *args[2:]]
        else:
            assert args[0] == "reagents", line
            args = [sys.executable, "-m", "reagents.cli", *args[1:]]
        done = await asyncio.to_thread(
            subprocess.run, args, cwd=tmp_path, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    replayed = [decode_event(x) for x in (tmp_path / "signals.jsonl").read_bytes().splitlines()]
    written = (tmp_path / "out" / "trading" / "signals.jsonl").read_bytes().splitlines()
    assert len(replayed) >= len(written) > 0  # the topic may also hold other tests' runs
    assert {decode_event(x).event_id for x in written} <= {e.event_id for e in replayed}
