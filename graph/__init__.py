"""The database: connection, local Neo4j launcher, schema, and every Cypher statement."""
