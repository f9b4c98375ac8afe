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

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from reagents.policies import Backoff, RateLimit
from reagents.sinks.agent import Agent
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sinks.file import JsonlDeadLetterLog
from reagents.sources.base import Source

if TYPE_CHECKING:
    from reagents.pipelines.pipeline import Pipeline

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

NodeKind: TypeAlias = Literal["source", "bus", "agent", "sink", "dead_letters"]
Detail: TypeAlias = str | int | float

BUS_ID = "bus"
DEAD_LETTERS_ID = "dead_letters"


@dataclass(frozen=True, slots=True)
class GraphNode:
    """One box of the graph; ``details`` are its settings (subscription, limits...)."""

    id: str
    kind: NodeKind
    label: str
    details: dict[str, Detail] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"id": self.id, "kind": self.kind, "label": self.label, "details": self.details}


@dataclass(frozen=True, slots=True)
class GraphEdge:
    """An arrow from node ``source`` to node ``target``, with an optional label."""

    source: str
    target: str
    label: str = ""

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form (``from`` / ``to`` / ``label``)."""
        return {"from": self.source, "to": self.target, "label": self.label}


@dataclass(frozen=True, slots=True)
class PipelineGraph:
    """The nodes and edges of one pipeline, plus its subscription index."""

    name: str
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]
    index: dict[str, list[str]] = field(default_factory=dict)
    """Event type (``type``, ``prefix*``, ``*``) → ids of the agents filed under it."""

    def node(self, node_id: str) -> GraphNode:
        """The node with id ``node_id`` (KeyError naming the known ids otherwise)."""
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(f"no node {node_id!r}; nodes are {[n.id for n in self.nodes]}")

    def of_kind(self, kind: NodeKind) -> list[GraphNode]:
        """The nodes of one kind, in declaration order."""
        return [node for node in self.nodes if node.kind == kind]

    def edges_from(self, node_id: str) -> list[GraphEdge]:
        """The edges leaving ``node_id``."""
        return [edge for edge in self.edges if edge.source == node_id]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: name, nodes, edges and the subscription index."""
        return {
            "name": self.name,
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [edge.to_dict() for edge in self.edges],
            "index": {key: list(ids) for key, ids in self.index.items()},
        }

    def to_text(self) -> str:
        """An indented tree readable in a terminal."""
        return _render_text(self)

    def to_mermaid(self) -> str:
        """A Mermaid ``flowchart LR``; labels are escaped so any filter text is safe."""
        return _render_mermaid(self)

    def to_svg(self) -> str:
        """A standalone SVG picture (pure Python, offline; see `graph_svg.graph_to_svg`)."""
        from reagents.pipelines.graph_svg import graph_to_svg

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
        edges.append(GraphEdge(BUS_ID, node.id, agent.filter.describe()))
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


# ---------------------------------------------------------------------------- text

_Tree: TypeAlias = tuple[str, list["_Tree"]]


def _render_text(graph: PipelineGraph) -> str:
    labels = {node.id: node.label for node in graph.nodes}
    branches = [_node_tree(graph, node, labels) for node in graph.of_kind("source")]
    fan_out = graph.edges_from(BUS_ID)
    subscribers = [_node_tree(graph, graph.node(e.target), labels) for e in fan_out]
    branches.append(("bus", [tree for tree in subscribers if tree[0] != "dead letters"]))
    branches[-1][1].extend(_edge_tree(e, labels) for e in fan_out if e.target == DEAD_LETTERS_ID)
    if graph.index:
        filed = "; ".join(f"{key} → {', '.join(ids)}" for key, ids in graph.index.items())
        branches.append((f"index: {filed}", []))
    branches.extend(_node_tree(graph, node, labels) for node in graph.of_kind("dead_letters"))
    lines = [f"pipeline {graph.name!r}"]
    for position, branch in enumerate(branches):
        lines.extend(_tree_lines(branch, "", position == len(branches) - 1))
    return "\n".join(lines)


def _node_tree(graph: PipelineGraph, node: GraphNode, labels: dict[str, str]) -> _Tree:
    kind = node.kind.replace("_", " ")
    head = node.label if node.label == kind else f"{kind} {node.label}"
    children: list[_Tree] = [(f"{key}: {value}", []) for key, value in node.details.items()]
    children += [_edge_tree(edge, labels) for edge in graph.edges_from(node.id)]
    return head, children


def _edge_tree(edge: GraphEdge, labels: dict[str, str]) -> _Tree:
    suffix = f": {edge.label}" if edge.label else ""
    return f"→ {labels.get(edge.target, edge.target)}{suffix}", []


def _tree_lines(tree: _Tree, prefix: str, last: bool) -> list[str]:
    text, children = tree
    lines = [f"{prefix}{'└── ' if last else '├── '}{text}"]
    inner = prefix + ("    " if last else "│   ")
    for position, child in enumerate(children):
        lines.extend(_tree_lines(child, inner, position == len(children) - 1))
    return lines


# ---------------------------------------------------------------------------- mermaid

_SHAPES: dict[NodeKind, tuple[str, str]] = {
    "source": ("([", "])"),
    "bus": ("((", "))"),
    "agent": ("[", "]"),
    "sink": ("[(", ")]"),
    "dead_letters": ("{{", "}}"),
}
_ESCAPES = {ord(c): f"#{ord(c)};" for c in '"#&<>|[](){}`;%'}
_ESCAPES[ord("\n")] = " "
_ESCAPES[ord("\r")] = " "


def mermaid_escape(text: str) -> str:
    """``text`` safe inside a quoted Mermaid label: specials become ``#NN;`` codes."""
    return text.translate(_ESCAPES)


def _render_mermaid(graph: PipelineGraph) -> str:
    ids = {node.id: f"n{number}" for number, node in enumerate(graph.nodes)}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        opening, closing = _SHAPES[node.kind]
        label = mermaid_escape(node.label)
        if node.kind == "agent":
            limits = f"max_concurrent {node.details['max_concurrent']}, "
            limits += f"priority {node.details['priority']}"
            if "rate" in node.details:
                limits += f", rate {node.details['rate']}"
            label += "<br/>" + mermaid_escape(limits)
        lines.append(f'    {ids[node.id]}{opening}"{label}"{closing}')
    for edge in graph.edges:
        arrow = "-.->" if edge.target == DEAD_LETTERS_ID else "-->"
        label = f'|"{mermaid_escape(edge.label)}"|' if edge.label else ""
        lines.append(f"    {ids[edge.source]} {arrow}{label} {ids[edge.target]}")
    for kind in _SHAPES:
        members = [ids[node.id] for node in graph.of_kind(kind)]
        if members:
            lines.append(f"    class {','.join(members)} {kind}")
    lines.append("    classDef dead_letters fill:#fdd,stroke:#c33")
    return "\n".join(lines)
