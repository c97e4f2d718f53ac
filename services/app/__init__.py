"""Use cases: what the service does, on ports only."""
