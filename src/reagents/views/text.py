"""Text renderings of a pipeline's graph: an indented tree and Mermaid source."""

from __future__ import annotations

from typing import TypeAlias

from reagents.views.model import BUS_ID, DEAD_LETTERS_ID, GraphEdge, GraphModel, GraphNode, NodeKind

__all__ = ["mermaid_escape", "render_mermaid", "render_text"]

# ---------------------------------------------------------------------------- text

_Tree: TypeAlias = tuple[str, list["_Tree"]]


def render_text(graph: GraphModel) -> str:
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


def _node_tree(graph: GraphModel, node: GraphNode, labels: dict[str, str]) -> _Tree:
    kind = node.kind.replace("_", " ")
    head = node.label if node.label == kind else f"{kind} {node.label}"
    children: list[_Tree] = [(f"{key}: {value}", []) for key, value in node.details.items()]
    for edge in graph.edges_from(node.id):
        if node.kind == "operator":  # a flow: draw the chain down to its agent
            children.append(_node_tree(graph, graph.node(edge.target), labels))
        else:
            children.append(_edge_tree(edge, labels))
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
    "operator": ("[/", "/]"),
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


def render_mermaid(graph: GraphModel) -> str:
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
