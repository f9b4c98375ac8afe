"""Pictures of pipelines: the operator graph (text, Mermaid, SVG, JSON) and stats plots.

A picture takes what it draws as data: `pipeline_graph` reads a `Pipeline`'s
declaration, `StatsRecorder` samples its stats. Imports pipelines/ and below; the
runtime never imports it.
"""
