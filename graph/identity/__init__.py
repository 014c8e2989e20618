"""Identity in the graph: one child from many sources (docs/matching.md, "In the graph").

`rows` builds what a SourceRecord stores (no Cypher); `models` keeps the matching model in the graph;
`store` holds the statements the matching run reads and writes with; `run` is the matching run; `merge` the
small primitives that move records between children and merge one child into another. The matching itself
(normalisation, the Splink model, the guards) is the `matching` package, which knows nothing of Neo4j.
"""
