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

* Flow operators are tested the same way with acknowledgements in view: a `Ledger`
  hands out receipts that record when they are released, `held_marbles` makes a flow
  of `Held` values from a diagram, and `run_flow` plays the handler (it releases each
  output when it arrives) and returns what came out and when::

      ledger = Ledger(scheduler)
      source = held_marbles(scheduler, "-a-b-c|", {"a": 1, "b": 2, "c": 3}, ledger)
      run = run_flow(scheduler, source, batch(2))
      assert run.values == [(203.0, [1, 2]), (206.0, [3])]
      assert ledger.released == {"a": [203.0], "b": [203.0], "c": [206.0]}

* `run_in_virtual_time` runs a whole pipeline on a virtual clock (looptime): windows,
  retries, timeouts and rate limits fire at their virtual times with no sleeps; `play`
  publishes events at given times and returns a `Timeline` of the bus.
"""

from reagents.testing.flows import FlowRun, Ledger, held_marbles, run_flow
from reagents.testing.log import DEFAULT_GROUP, MemoryLog, MemoryLogSink, MemoryLogSource
from reagents.testing.marbles import cold_events, hot_events, marbles_of
from reagents.testing.runs import PipelineRun, memory_pipeline, run_events
from reagents.testing.virtual_time import Timeline, play, run_in_virtual_time

__all__ = [
    "DEFAULT_GROUP",
    "FlowRun",
    "Ledger",
    "MemoryLog",
    "MemoryLogSink",
    "MemoryLogSource",
    "PipelineRun",
    "Timeline",
    "cold_events",
    "held_marbles",
    "hot_events",
    "marbles_of",
    "memory_pipeline",
    "play",
    "run_events",
    "run_flow",
    "run_in_virtual_time",
]
