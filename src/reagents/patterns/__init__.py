"""Collaboration patterns above the runtime: request/response, sagas, workflows, idempotency.

Everything here talks to agents only through a `Pipeline` (``request``, ``publish``),
so the agents may run in this process or in others over Kafka. Imports pipelines/
and below; nothing below imports it.
"""
