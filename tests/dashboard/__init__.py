"""The dashboard against a real API on the real test Neo4j: page logic (AppTest) and a real browser."""
