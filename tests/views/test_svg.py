"""graph_to_svg: a well-formed, self-contained, escaped SVG picture of a PipelineGraph."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from itertools import combinations

import pytest

from reagents.events import AgentEvent
from reagents.operators.filters import where_type
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import RateLimit
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.views.graph import GraphEdge, GraphNode, PipelineGraph, pipeline_graph
from reagents.views.svg import graph_to_svg, svg_text

SVG = "{http://www.w3.org/2000/svg}"
TRICKY = "type = alert AND payload.note CONTAINS '<script>alert(\"x\")</script> & 50%'"
LONG = " OR ".join(f"type = very.long.event.type.number.{n}" for n in range(8))


def noop(event: AgentEvent) -> None:
    return None


@pytest.fixture
def pipeline() -> Pipeline:
    pipeline = Pipeline("shop & co", dead_letters=MemoryDeadLetters())
    pipeline.agent("inventory", subscription="type = order.created", max_concurrent=4)(noop)
    pipeline.agent("alerts", subscription=TRICKY, rate=RateLimit(rate=5))(noop)
    pipeline.agent("wide", subscription=LONG)(noop)
    pipeline.add_sink(MemorySink(where_type("order.*"), name="orders"))
    return pipeline


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on anything that is not well-formed XML


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def node_rects(root: ET.Element) -> list[tuple[float, float, float, float]]:
    """(x, y, w, h) of every node box (the rects inside a <g>, not the background)."""
    return [
        tuple(float(rect.get(k, "0")) for k in ("x", "y", "width", "height"))  # type: ignore[misc]
        for group in root.iter(f"{SVG}g")
        for rect in group.findall(f"{SVG}rect")
    ]


def test_is_a_well_formed_standalone_svg(pipeline: Pipeline) -> None:
    svg = graph_to_svg(pipeline_graph(pipeline))
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width", "0")) > 300
    assert float(root.get("height", "0")) > 200
    assert "<script" not in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_shows_every_node_and_the_subscriptions(pipeline: Pipeline) -> None:
    shown = texts(parse(graph_to_svg(pipeline_graph(pipeline))))
    for label in ("inbox", "bus", "inventory", "alerts", "wide", "orders", "dead letters"):
        assert label in shown
    assert "type = order.created" in shown
    assert "type = order.*" in shown
    assert "max_concurrent 4 · priority 5" in shown
    assert "5 per 1s" in shown
    assert "order.created → inventory" in shown  # the router index


def test_filter_text_is_escaped_not_interpreted(pipeline: Pipeline) -> None:
    svg = graph_to_svg(pipeline_graph(pipeline))
    shown = " ".join(texts(parse(svg)))
    assert '<script>alert("x")</script> &' in shown
    assert "&lt;script&gt;" in svg
    assert "pipeline &#x27;shop &amp; co&#x27;" in svg


def test_long_labels_are_wrapped_and_cut_but_kept_whole_in_the_hover_title(
    pipeline: Pipeline,
) -> None:
    root = parse(graph_to_svg(pipeline_graph(pipeline)))
    shown = texts(root)
    wrapped = [t for t in shown if "very.long.event.type" in t and "→" not in t]
    assert len(wrapped) == 2
    assert all(len(line) <= 44 for line in wrapped)
    assert sum(line.endswith("…") for line in wrapped) == 1
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert any(LONG in title for title in titles)


def test_node_boxes_do_not_overlap(pipeline: Pipeline) -> None:
    rects = node_rects(parse(graph_to_svg(pipeline_graph(pipeline))))
    assert len(rects) == len(pipeline_graph(pipeline).nodes)
    for (x1, y1, w1, h1), (x2, y2, w2, h2) in combinations(rects, 2):
        apart = x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
        assert apart, ((x1, y1, w1, h1), (x2, y2, w2, h2))


def test_every_edge_is_drawn_once(pipeline: Pipeline) -> None:
    graph = pipeline_graph(pipeline)
    paths = parse(graph_to_svg(graph)).findall(f".//{SVG}g/{SVG}path")
    assert len(paths) == len(graph.edges)


def test_edges_to_unknown_nodes_are_skipped() -> None:
    graph = PipelineGraph(
        "tiny",
        (GraphNode("bus", "bus", "bus"), GraphNode("agent:a", "agent", "a")),
        (GraphEdge("bus", "agent:a", "type = x"), GraphEdge("bus", "agent:ghost", "?")),
    )
    root = parse(graph_to_svg(graph))
    assert len(root.findall(f".//{SVG}g/{SVG}path")) == 1


def test_rendering_is_deterministic_and_shown_by_jupyter(pipeline: Pipeline) -> None:
    graph = pipeline_graph(pipeline)
    assert graph.to_svg() == graph_to_svg(graph) == graph_to_svg(pipeline_graph(pipeline))
    assert graph._repr_svg_() == graph.to_svg()


def test_svg_text_escapes_markup_and_replaces_characters_xml_forbids() -> None:
    assert svg_text("a<b & \"c\" 'd'>") == "a&lt;b &amp; &quot;c&quot; &#x27;d&#x27;&gt;"
    assert svg_text("bell\x07tab\tnl\n") == "bell\ufffdtab\tnl\n"
    label = "x\x00y\x1bz"
    graph = PipelineGraph("p", (GraphNode("agent:a", "agent", label),), ())
    parse(graph_to_svg(graph))
