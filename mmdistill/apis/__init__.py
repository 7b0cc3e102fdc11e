"""High-level entry points (the quickstart pipeline)."""
