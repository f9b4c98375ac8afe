"""reagents: event-driven AI agents as reactive pipelines on reactivex.

Everything a user needs is importable from here::

    from reagents import AgentEvent, Pipeline, where

Submodules not re-exported here are private by convention. ``import reagents`` needs
only the core dependencies: the Kafka classes are importable without aiokafka and need
it (``pip install 'reagents[kafka]'``) to be built, as `LLMAgent` needs ``reagents[ai]``
and `EmbeddedBroker` ``reagents[broker]``; without it they raise `MissingExtraError`.

The package is layered; a module imports only from its own layer and those below:

    errors, events, dead_letter, schemas, delivery   the contracts
    policies      Backoff, RateLimit, ModelBudget, Overflow, Watermarks, PriorityFifo,
                  flow time
    operators     Rx operators: filters, the where language, flow operators
    kafka         Kafka plumbing (config, topics, producer, embedded broker)
    sources, sinks   memory, file, Kafka; Agent is the reacting sink
    ai            LLMAgent: pydantic-ai model calls as agents (the ``ai`` extra)
    pipelines     the runtime: Pipeline, lifecycle, bus, router, runner, flows
    patterns, views  sagas, workflows, idempotency; the operator graph and plots
    cli, testing  the command line; test doubles, marbles, virtual time
"""

from reagents.ai import LLMAgent, ModelUsage, llm_agent
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Held, Incoming, OrderedAcks
from reagents.errors import (
    BufferOverflowError,
    ConfigurationError,
    EventDecodeError,
    FilterSyntaxError,
    PayloadValidationError,
    ReagentsError,
)
from reagents.events import (
    AgentEvent,
    AgentResponse,
    EventRoute,
    decode_event,
    encode_event,
    read_route,
)
from reagents.kafka import EmbeddedBroker, KafkaConfig, TopicNaming
from reagents.operators import (
    Filter,
    Flow,
    FlowContext,
    FlowOperator,
    TypeSet,
    addressed_only,
    any_event,
    as_flow,
    batch,
    by_key,
    combine_latest,
    debounce,
    deduplicate,
    distinct_until_changed,
    each,
    hopping,
    parse_expression,
    sample,
    scan,
    session,
    throttle,
    throttle_first,
    tumbling,
    where,
    where_content,
    where_field,
    where_jsonpath,
    where_regex,
    where_type,
    with_latest_from,
)
from reagents.patterns.idempotency import (
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
    idempotent,
)
from reagents.patterns.saga import Saga, SagaCoordinator, SagaStep, reject
from reagents.patterns.saga_store import SagaStatus, SagaStore, SqliteSagaStore
from reagents.patterns.workflow import Workflow, WorkflowCoordinator, WorkflowStep
from reagents.pipelines.lifecycle import SourceFailedError
from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.requests import AgentRequestError, RequestTimeoutError
from reagents.pipelines.stats import StatsSnapshot, StatsTable
from reagents.policies import (
    Backoff,
    BudgetLease,
    BudgetLimits,
    DropReason,
    EventTime,
    ModelBudget,
    Overflow,
    PriorityFifo,
    ProcessingTime,
    RateLimit,
    TokenBucket,
    Watermarks,
)
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sinks.file import FileSink, JsonlDeadLetterLog, read_dead_letters
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sources.base import Routing, Source
from reagents.sources.file import FileSource
from reagents.sources.kafka import KafkaSource
from reagents.sources.memory import MemorySource
from reagents.version import __version__
from reagents.views.graph import PipelineGraph, pipeline_graph
from reagents.views.monitor import StatsRecorder

__all__ = [
    "Agent",
    "AgentEvent",
    "AgentRequestError",
    "AgentResponse",
    "Backoff",
    "BudgetLease",
    "BudgetLimits",
    "BufferOverflowError",
    "ConfigurationError",
    "DeadLetter",
    "DeadLetterSink",
    "DropReason",
    "EmbeddedBroker",
    "EventDecodeError",
    "EventRoute",
    "EventTime",
    "FailureStage",
    "FileSink",
    "FileSource",
    "Filter",
    "FilterSyntaxError",
    "Flow",
    "FlowContext",
    "FlowOperator",
    "Held",
    "Incoming",
    "JsonlDeadLetterLog",
    "KafkaConfig",
    "KafkaDeadLetterSink",
    "KafkaSink",
    "KafkaSource",
    "LLMAgent",
    "MemoryDeadLetters",
    "MemoryIdempotencyStore",
    "MemorySink",
    "MemorySource",
    "ModelBudget",
    "ModelUsage",
    "OrderedAcks",
    "Overflow",
    "PayloadSchemas",
    "PayloadValidationError",
    "Pipeline",
    "PipelineGraph",
    "PriorityFifo",
    "ProcessingTime",
    "RateLimit",
    "ReagentsError",
    "RequestTimeoutError",
    "Routing",
    "Saga",
    "SagaCoordinator",
    "SagaStatus",
    "SagaStep",
    "SagaStore",
    "Sink",
    "Source",
    "SourceFailedError",
    "SqliteIdempotencyStore",
    "SqliteSagaStore",
    "StatsRecorder",
    "StatsSnapshot",
    "StatsTable",
    "TokenBucket",
    "TopicNaming",
    "TypeSet",
    "Watermarks",
    "Workflow",
    "WorkflowCoordinator",
    "WorkflowStep",
    "__version__",
    "addressed_only",
    "any_event",
    "as_flow",
    "batch",
    "by_key",
    "combine_latest",
    "debounce",
    "decode_event",
    "deduplicate",
    "distinct_until_changed",
    "each",
    "encode_event",
    "hopping",
    "idempotent",
    "llm_agent",
    "parse_expression",
    "pipeline_graph",
    "read_dead_letters",
    "read_route",
    "reject",
    "sample",
    "scan",
    "session",
    "throttle",
    "throttle_first",
    "tumbling",
    "where",
    "where_content",
    "where_field",
    "where_jsonpath",
    "where_regex",
    "where_type",
    "with_latest_from",
]
