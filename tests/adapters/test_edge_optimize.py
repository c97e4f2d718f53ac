"""EdgeIndex optimises itself in the background once idle after enough changes."""

from __future__ import annotations

import time
from pathlib import Path

from services.adapters.qdrant_edge import EdgeIndex
from tests.adapters.test_index_contract import DIM, corpus, search_all


class Optimises:
    """How many optimises the index finished (each runs on a copy in a child process)."""

    def __init__(self, index: EdgeIndex) -> None:
        self._index = index

    @property
    def optimized(self) -> int:
        return self._index.optimizations


def counting(index: EdgeIndex) -> Optimises:
    return Optimises(index)


def test_optimises_once_idle_after_enough_points(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=0.3, optimize_min_points=10)
    shard = counting(index)
    try:
        index.upsert(corpus("a", "doc1", 5))
        time.sleep(0.6)
        assert shard.optimized == 0  # too few changes
        index.upsert(corpus("a", "doc2", 5))
        assert not index.wait_optimized(0.1)  # not idle yet
        assert index.wait_optimized(10)
        assert shard.optimized == 1
        assert len(search_all(index, "a")) == 10
        time.sleep(0.6)
        assert shard.optimized == 1  # nothing changed since
    finally:
        index.close()


def test_waits_while_searched(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=0.5, optimize_min_points=1)
    shard = counting(index)
    try:
        index.upsert(corpus("a", "doc1", 5))
        until = time.monotonic() + 1.2
        while time.monotonic() < until:
            search_all(index, "a")
            time.sleep(0.1)
        assert shard.optimized == 0
        assert index.wait_optimized(10)
        assert shard.optimized == 1
    finally:
        index.close()


def test_off_and_reopened(tmp_path: Path) -> None:
    first = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=None, optimize_min_points=1)
    first.upsert(corpus("a", "doc1", 5))
    assert not first.wait_optimized(0.3)  # background optimise is off
    assert first.optimize() is False  # too small to index, but runs
    assert first.wait_optimized(0)
    first.close()
    first.close()
    again = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=0.2, optimize_min_points=1)
    shard = counting(again)
    try:
        assert again.wait_optimized(10)  # reopened with points: checked once when idle
        assert shard.optimized == 1
        assert again.count(tenant="a") == 5
    finally:
        again.close()
