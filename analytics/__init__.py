"""Reviewer analytics without Neo4j: keyed pseudonyms, small-cell suppression, network measures."""
