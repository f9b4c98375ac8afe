"""Event sources: where records come from (memory, JSONL files, Kafka)."""
