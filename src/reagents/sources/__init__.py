"""Event sources: where records come from (memory, JSONL files, Kafka).

A `Source` yields batches of `Incoming` records (an event, or the dead letter of one
that could not be decoded) with an ``ack`` each; it checkpoints what its acks allow
(a file position, a Kafka offset) and can be paused by the pipeline's watermarks.
Imports the contracts, the policies and the Kafka plumbing (``reagents.kafka``);
nothing above them.
"""
