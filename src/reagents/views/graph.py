"""`PipelineGraph`: a pipeline's operator graph as plain data, for terminals and diagrams.

Sources feed the bus; the bus feeds each agent and sink through its subscription; an
agent's reactions go back onto the bus; failures go to the dead letters::

    source ──▶ bus ──[subscription]──▶ agent ──reactions──▶ bus
                 └──[subscription]──▶ sink      agent ──failures──▶ dead letters

Render it with `PipelineGraph.to_text` (an indented tree), `PipelineGraph.to_mermaid`
(a ``flowchart LR``), `PipelineGraph.to_svg` (a picture; Jupyter shows it) or
`PipelineGraph.to_dict` (JSON-ready data).
"""

from __future__ import annotations

from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff, RateLimit
from reagents.sinks.agent import Agent
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sinks.file import JsonlDeadLetterLog
from reagents.sources.base import Source
from reagents.views.model import (
    BUS_ID,
    DEAD_LETTERS_ID,
    Detail,
    GraphEdge,
    GraphModel,
    GraphNode,
    NodeKind,
)
from reagents.views.svg import graph_to_svg
from reagents.views.text import mermaid_escape, render_mermaid, render_text

__all__ = [
    "GraphEdge",
    "GraphNode",
    "NodeKind",
    "PipelineGraph",
    "describe_backoff",
    "describe_rate",
    "mermaid_escape",
    "pipeline_graph",
]


class PipelineGraph(GraphModel):
    """A pipeline's graph with its renderings (text, Mermaid, SVG; Jupyter shows SVG)."""

    __slots__ = ()

    def to_text(self) -> str:
        """An indented tree readable in a terminal."""
        return render_text(self)

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart LR``; labels are escaped so any filter text is safe."""
        return render_mermaid(self)

    def to_svg(self) -> str:
        """A standalone SVG picture (pure Python, offline; see `graph_svg.graph_to_svg`)."""
        return graph_to_svg(self)

    def _repr_svg_(self) -> str:
        """Jupyter shows the graph as a picture."""
        return self.to_svg()


def pipeline_graph(pipeline: Pipeline) -> PipelineGraph:
    """The operator graph of ``pipeline`` as it is declared now."""
    nodes: list[GraphNode] = []
    edges: list[GraphEdge] = []
    for source in [*pipeline.sources, pipeline.inbox]:
        node = _source_node(source, inbox=source is pipeline.inbox)
        nodes.append(node)
        edges.append(GraphEdge(node.id, BUS_ID))
    nodes.append(GraphNode(BUS_ID, "bus", "bus"))
    edges.append(GraphEdge(BUS_ID, DEAD_LETTERS_ID, "undecodable, invalid or unroutable"))
    for agent in pipeline.agents:
        node = _agent_node(agent)
        nodes.append(node)
        previous, label = BUS_ID, agent.filter.describe()
        for number, step in enumerate(agent.flow_steps):
            operator = GraphNode(f"flow:{agent.id}:{number}", "operator", step)
            nodes.append(operator)
            edges.append(GraphEdge(previous, operator.id, label))
            previous, label = operator.id, ""
        edges.append(GraphEdge(previous, node.id, label))
        edges.append(GraphEdge(node.id, BUS_ID, "reactions"))
        edges.append(GraphEdge(node.id, DEAD_LETTERS_ID, "failures"))
    for sink in pipeline.sinks:
        node = _sink_node(sink)
        nodes.append(node)
        edges.append(GraphEdge(BUS_ID, node.id, sink.subscription.describe()))
        edges.append(GraphEdge(node.id, DEAD_LETTERS_ID, "failures"))
    nodes.append(_dead_letter_node(pipeline.dead_letter_sink))
    return PipelineGraph(pipeline.name, tuple(nodes), tuple(edges), pipeline.subscriptions_index())


def _source_node(source: Source, *, inbox: bool) -> GraphNode:
    details: dict[str, Detail] = {"type": type(source).__name__}
    if inbox:
        details["fed by"] = "pipeline.publish()"
    path = getattr(source, "path", None)
    if path is not None:
        details["path"] = str(path)
    return GraphNode(f"source:{source.name}", "source", source.describe(), details)


def _agent_node(agent: Agent) -> GraphNode:
    details: dict[str, Detail] = {
        "subscription": agent.filter.describe(),
        "max_concurrent": agent.concurrency,
        "priority": agent.rank,
        "retry": describe_backoff(agent.backoff),
    }
    if agent.rate_limit is not None:
        details["rate"] = describe_rate(agent.rate_limit)
    if agent.handler_timeout is not None:
        details["timeout"] = f"{agent.handler_timeout:g}s"
    if agent.flow_steps:
        details["flow"] = " → ".join(agent.flow_steps)
        details["time"] = agent.flow_time.kind
    return GraphNode(f"agent:{agent.id}", "agent", agent.id, details)


def _sink_node(sink: Sink) -> GraphNode:
    details: dict[str, Detail] = {
        "type": type(sink).__name__,
        "subscription": sink.subscription.describe(),
    }
    path = getattr(sink, "path", None)
    if path is not None:
        details["path"] = str(path)
    return GraphNode(f"sink:{sink.name}", "sink", sink.describe(), details)


def _dead_letter_node(sink: DeadLetterSink) -> GraphNode:
    details: dict[str, Detail] = {"type": type(sink).__name__}
    if isinstance(sink, JsonlDeadLetterLog):
        details["path"] = str(sink.path)
    return GraphNode(DEAD_LETTERS_ID, "dead_letters", "dead letters", details)


def describe_backoff(backoff: Backoff) -> str:
    """``3 retries, 0.1s x2 up to 30s`` (or ``no retries``)."""
    if backoff.max_retries == 0:
        return "no retries"
    plural = "retry" if backoff.max_retries == 1 else "retries"
    text = (
        f"{backoff.max_retries} {plural}, {backoff.initial:g}s x{backoff.multiplier:g} "
        f"up to {backoff.max_delay:g}s"
    )
    return text + (f", jitter {backoff.jitter:g}" if backoff.jitter else "")


def describe_rate(rate: RateLimit) -> str:
    """``10 per 1s (burst 20)``."""
    burst = f" (burst {rate.burst})" if rate.burst is not None else ""
    return f"{rate.rate} per {rate.per:g}s{burst}"
