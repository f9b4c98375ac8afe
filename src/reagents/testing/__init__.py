"""Test doubles and helpers for users' own pipelines, sources and operators.

* `run_events` feeds events through a pipeline and returns everything that happened
  (every event on the bus and every dead letter), with no files written.
* `MemoryLog` with `MemoryLogSource` / `MemoryLogSink`: an in-memory log of raw
  records read with the Kafka source's semantics (committed offsets, in-order commits
  of out-of-order acks, a window that pauses, redelivery after a crash, decode dead
  letters), so at-least-once behaviour is tested without a broker.
* `cold_events` / `hot_events` turn a marble diagram whose letters name events into
  an observable in virtual time; `marbles_of` renders recorded output back to a
  diagram, so operator tests read like the diagrams in the docstrings::

      scheduler = TestScheduler()
      source = cold_events(scheduler, "a-b-c|", {"a": quote, "b": alert, "c": quote})
      result = scheduler.start(lambda: source.pipe(where_type("quote")))
      assert marbles_of(result.messages, {"a": quote, "c": quote}) == "a---c|"
"""

from reagents.testing.log import DEFAULT_GROUP, MemoryLog, MemoryLogSink, MemoryLogSource
from reagents.testing.marbles import cold_events, hot_events, marbles_of
from reagents.testing.runs import PipelineRun, memory_pipeline, run_events

__all__ = [
    "DEFAULT_GROUP",
    "MemoryLog",
    "MemoryLogSink",
    "MemoryLogSource",
    "PipelineRun",
    "cold_events",
    "hot_events",
    "marbles_of",
    "memory_pipeline",
    "run_events",
]
