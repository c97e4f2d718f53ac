"""Composition and processes: the composition root, embedded processes, logging, metrics."""
