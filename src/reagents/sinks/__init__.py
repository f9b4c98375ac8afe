"""Sinks: where events go — agents (the reacting sink), JSONL files, memory, Kafka.

`Agent` is the sink whose reactions go back onto the bus; its flow (an operator chain
from ``reagents.operators``) sits between its subscription and its handler. The other
sinks write what their subscription matches; the dead-letter sinks record failures.
Imports the contracts, the policies, the operators and the Kafka plumbing.
"""
