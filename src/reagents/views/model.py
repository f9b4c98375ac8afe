"""The operator graph as plain data: nodes, edges and the subscription index.

Renderers (`reagents.views.text`, `reagents.views.svg`) read a `GraphModel`; the
builder in `reagents.views.graph` makes one from a pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "BUS_ID",
    "DEAD_LETTERS_ID",
    "Detail",
    "GraphEdge",
    "GraphModel",
    "GraphNode",
    "NodeKind",
    "collapse_flows",
]

NodeKind: TypeAlias = Literal["source", "bus", "operator", "agent", "sink", "dead_letters"]
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
class GraphModel:
    """The nodes and edges of one pipeline, plus its subscription index (plain data)."""

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


def collapse_flows(graph: GraphModel) -> GraphModel:
    """The graph with each flow's operator nodes folded into the arrow they sit on.

    ``bus --[type = tick]--> batch(3) --> agent`` becomes one arrow from the bus to the
    agent labelled ``type = tick ▸ batch(3)`` (for pictures with fixed columns).
    """
    operators = {node.id: node for node in graph.nodes if node.kind == "operator"}
    if not operators:
        return graph
    onward = {edge.source: edge.target for edge in graph.edges if edge.source in operators}
    edges = []
    for edge in graph.edges:
        if edge.source in operators:
            continue
        labels, target = [edge.label], edge.target
        while target in operators:
            labels.append(operators[target].label)
            target = onward[target]
        edges.append(GraphEdge(edge.source, target, " ▸ ".join(t for t in labels if t)))
    nodes = tuple(node for node in graph.nodes if node.id not in operators)
    return GraphModel(graph.name, nodes, tuple(edges), graph.index)
