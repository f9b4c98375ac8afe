"""PipelineGraph: nodes, edges and details of a pipeline; text, Mermaid and dict renderings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reagents.events import AgentEvent
from reagents.operators.filters import where_type
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff, RateLimit
from reagents.sinks.file import FileSink
from reagents.sources.file import FileSource
from reagents.views.graph import (
    GraphEdge,
    PipelineGraph,
    describe_backoff,
    describe_rate,
    mermaid_escape,
    pipeline_graph,
)

TRICKY = "type = alert AND payload.note CONTAINS 'a \"quoted\" [x|y] (z) {w} #1; 50%'"


def noop(event: AgentEvent) -> None:
    return None


@pytest.fixture
def graph(tmp_path: Path) -> PipelineGraph:
    log = tmp_path / "market.jsonl"
    log.write_text("")
    pipeline = Pipeline(
        "trading",
        sources=[FileSource(log, checkpoint_path=tmp_path / "cp")],
        dead_letters=tmp_path / "dead.jsonl",
    )
    pipeline.agent(
        "trader",
        subscription="type = market_data",
        max_concurrent=4,
        priority=2,
        retry=Backoff(max_retries=2, initial=0.5, multiplier=3, max_delay=10),
        rate=RateLimit(rate=10, per=2, burst=20),
        timeout=1.5,
    )(noop)
    pipeline.agent("alerts", subscription=TRICKY)(noop)
    pipeline.add_sink(FileSink(tmp_path / "out.jsonl", subscription=where_type("order*")))
    return pipeline_graph(pipeline)


def test_nodes_in_declaration_order_with_kinds(graph: PipelineGraph) -> None:
    assert [(n.id, n.kind) for n in graph.nodes] == [
        ("source:file:market.jsonl", "source"),
        ("source:inbox", "source"),
        ("bus", "bus"),
        ("agent:trader", "agent"),
        ("agent:alerts", "agent"),
        ("sink:file:out.jsonl", "sink"),
        ("dead_letters", "dead_letters"),
    ]
    assert graph.name == "trading"


def test_agent_details_show_subscription_and_limits(graph: PipelineGraph) -> None:
    assert graph.node("agent:trader").details == {
        "subscription": "type = market_data",
        "max_concurrent": 4,
        "priority": 2,
        "retry": "2 retries, 0.5s x3 up to 10s, jitter 0.5",
        "rate": "10 per 2s (burst 20)",
        "timeout": "1.5s",
    }
    assert "rate" not in graph.node("agent:alerts").details


def test_source_sink_and_dead_letter_details(graph: PipelineGraph, tmp_path: Path) -> None:
    assert graph.node("source:file:market.jsonl").details["path"] == str(tmp_path / "market.jsonl")
    assert graph.node("source:inbox").details["fed by"] == "pipeline.publish()"
    assert graph.node("sink:file:out.jsonl").details["subscription"] == "type = order*"
    assert graph.node("dead_letters").details == {
        "type": "JsonlDeadLetterLog",
        "path": str(tmp_path / "dead.jsonl"),
    }
    with pytest.raises(KeyError, match="no node 'agent:nobody'"):
        graph.node("agent:nobody")


def test_edges_carry_subscriptions_reactions_and_failures(graph: PipelineGraph) -> None:
    assert graph.edges_from("agent:trader") == [
        GraphEdge("agent:trader", "bus", "reactions"),
        GraphEdge("agent:trader", "dead_letters", "failures"),
    ]
    fan_out = {(e.target, e.label) for e in graph.edges_from("bus")}
    assert fan_out == {
        ("dead_letters", "undecodable, invalid or unroutable"),
        ("agent:trader", "type = market_data"),
        ("agent:alerts", TRICKY),
        ("sink:file:out.jsonl", "type = order*"),
    }
    assert graph.edges_from("source:inbox") == [GraphEdge("source:inbox", "bus")]


def test_index_lists_where_agents_are_filed(graph: PipelineGraph) -> None:
    assert graph.index == {"market_data": ["trader"], "alert": ["alerts"]}


def test_to_dict_is_json_ready(graph: PipelineGraph) -> None:
    data = json.loads(json.dumps(graph.to_dict()))
    assert data["name"] == "trading"
    assert {"from": "bus", "to": "agent:trader", "label": "type = market_data"} in data["edges"]
    assert data["nodes"][3]["details"]["max_concurrent"] == 4
    assert data["index"]["alert"] == ["alerts"]


def test_text_is_an_indented_tree(graph: PipelineGraph) -> None:
    text = graph.to_text()
    lines = text.splitlines()
    assert lines[0] == "pipeline 'trading'"
    assert "├── bus" in lines
    assert "│   ├── agent trader" in lines
    assert "│   │   ├── max_concurrent: 4" in lines
    assert "│   │   ├── → bus: reactions" in lines
    assert "├── index: market_data → trader; alert → alerts" in lines
    assert lines[-3:] == [
        "└── dead letters",
        "    ├── type: JsonlDeadLetterLog",
        f"    └── path: {graph.node('dead_letters').details['path']}",
    ]


def test_mermaid_flowchart_shapes_and_edges(graph: PipelineGraph) -> None:
    lines = graph.to_mermaid().splitlines()
    assert lines[0] == "flowchart LR"
    assert '    n0(["file:market.jsonl"])' in lines
    assert '    n2(("bus"))' in lines
    trader = '    n3["trader<br/>max_concurrent 4, priority 2, rate 10 per 2s #40;burst 20#41;"]'
    assert trader in lines
    assert '    n5[("file:out.jsonl")]' in lines
    assert '    n6{{"dead letters"}}' in lines
    assert '    n2 -->|"type = market_data"| n3' in lines
    assert '    n3 -.->|"failures"| n6' in lines
    assert "    n0 --> n2" in lines


def test_mermaid_labels_escape_every_special_character(graph: PipelineGraph) -> None:
    mermaid = graph.to_mermaid()
    edge = next(line for line in mermaid.splitlines() if line.endswith("| n4"))
    label = re.fullmatch(r'    n2 -->\|"(.*)"\| n4', edge)
    assert label is not None
    unescaped = re.sub(r"#\d+;", "", label.group(1))
    assert not set(unescaped) & set('"|[](){}<>`;%#')
    assert "#34;quoted#34;" in label.group(1)
    assert "#91;x#124;y#93;" in label.group(1)
    assert "#35;1#59; 50#37;" in label.group(1)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ('say "hi"', "say #34;hi#34;"),
        ("a|b", "a#124;b"),
        ("[x](y){z}", "#91;x#93;#40;y#41;#123;z#125;"),
        ("<b>&", "#60;b#62;#38;"),
        ("#35;", "#35;35#59;"),
        ("two\nlines", "two lines"),
        ("plain text.*", "plain text.*"),
    ],
)
def test_mermaid_escape(raw: str, escaped: str) -> None:
    assert mermaid_escape(raw) == escaped


def test_policy_descriptions() -> None:
    assert describe_backoff(Backoff(max_retries=0)) == "no retries"
    assert describe_backoff(Backoff(max_retries=1, jitter=0.5)) == (
        "1 retry, 0.1s x2 up to 30s, jitter 0.5"
    )
    assert describe_rate(RateLimit(rate=5)) == "5 per 1s"


def test_empty_pipeline_still_has_bus_inbox_and_dead_letters(tmp_path: Path) -> None:
    graph = pipeline_graph(Pipeline("empty", dead_letters=tmp_path / "d.jsonl"))
    assert [n.kind for n in graph.nodes] == ["source", "bus", "dead_letters"]
    assert graph.index == {}
    assert "index:" not in graph.to_text()
    assert graph.to_mermaid().count("-->") + graph.to_mermaid().count("-.->") == 2


def test_a_flow_is_drawn_as_its_chain_of_operators() -> None:
    from reagents import Agent, MemoryDeadLetters, batch, by_key, tumbling

    pipeline = Pipeline("flows", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        Agent(
            lambda ticks: None,
            id="vwap",
            subscription="type = tick",
            flow=[by_key(lambda e: e.payload["symbol"], tumbling(1.0)), batch(5, within=2.0)],
        )
    )
    graph = pipeline_graph(pipeline)
    operators = graph.of_kind("operator")
    assert [node.label for node in operators] == [
        "by_key(<lambda>: tumbling(1s))",
        "batch(5, within=2s)",
    ]
    chain = [(e.source, e.target, e.label) for e in graph.edges if "flow:" in e.source + e.target]
    assert chain == [
        ("bus", "flow:vwap:0", "type = tick"),
        ("flow:vwap:0", "flow:vwap:1", ""),
        ("flow:vwap:1", "agent:vwap", ""),
    ]
    flow = "by_key(<lambda>: tumbling(1s)) → batch(5, within=2s)"
    assert graph.node("agent:vwap").details["flow"] == flow
    assert "[/" in graph.to_mermaid()  # operators are parallelograms
    assert "operator batch(5, within=2s)" in graph.to_text()
    svg = graph.to_svg()  # the picture folds the chain onto the arrow into the agent
    assert "type = tick ▸ by_key" in svg
    assert json.loads(json.dumps(graph.to_dict()))["nodes"][3]["kind"] == "operator"
