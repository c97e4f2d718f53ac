"""EdgeIndex optimises a copy in a child process and swaps it in (real engine, real child).

`--hold` makes the child wait, after optimising the copy, until the test creates a file: the
test then knows the optimise is still running (the call has not returned, the child lives)
while it searches, counts, upserts and deletes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.errors import BackendUnavailable
from pipelines.models import SparseVector
from services.adapters.qdrant_edge import EdgeIndex
from tests.adapters.test_index_contract import DIM, corpus, search_all, unit

REPO = Path(__file__).resolve().parents[2]
NO_WORDS = SparseVector(indices=[], values=[])


def generations(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir() if entry.name.startswith("gen-"))


def ranking(index: EdgeIndex, tenant: str) -> list[list[tuple[str, int, float]]]:
    """Hits of a few dense-only queries: (document, chunk number, score). Dense scores
    order every point (the sparse ones tie between this corpus' near-identical texts, and
    the engine breaks ties in no fixed order)."""
    found = []
    for seed in range(4):
        hits = index.search(tenant=tenant, dense=unit(seed), sparse=NO_WORDS, limit=20)
        found.append([(h.chunk.document_id, h.chunk.number, round(h.score, 6)) for h in hits])
    return found


def wait_for(path: Path, thread: threading.Thread) -> None:
    """Until the held child created `path` (it optimised the copy); fails if the optimise
    ended first."""
    while not path.exists():
        assert thread.is_alive(), "the optimise ended before the child held"
        time.sleep(0.02)


class Held:
    """An optimise running in a thread, its child held until `release()`."""

    def __init__(self, index: EdgeIndex, tmp_path: Path) -> None:
        self.flag = tmp_path / "release"
        self.marker = tmp_path / "release.optimised"
        index._child_args = ["--hold", str(self.flag)]
        self.error: BaseException | None = None
        self.result: bool | None = None
        self.thread = threading.Thread(target=self._run, args=(index,))
        self.thread.start()
        wait_for(self.marker, self.thread)

    def _run(self, index: EdgeIndex) -> None:
        try:
            self.result = index.optimize()
        except BaseException as exc:
            self.error = exc

    def release(self) -> None:
        self.flag.touch()
        self.thread.join(60)
        assert not self.thread.is_alive()


def updates(index: EdgeIndex) -> None:
    index.upsert(corpus("a", "doc2", 7))
    index.delete_document("b", "doc9")
    index.upsert(corpus("a", "doc1", 3))  # replaces three points already there


@pytest.fixture
def index(tmp_path: Path) -> Iterator[EdgeIndex]:
    opened = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=None, optimize_min_points=1)
    opened.upsert(corpus("a", "doc1", 40) + corpus("b", "doc9", 10))
    yield opened
    opened.close()


def test_results_identical_after_swap(index: EdgeIndex, tmp_path: Path) -> None:
    before = ranking(index, "a")
    found = sorted((c.document_id, c.number) for c in search_all(index, "a"))
    assert generations(tmp_path / "edge") == ["gen-0"]
    index.optimize()
    assert generations(tmp_path / "edge") == ["gen-1"]  # swapped, the old one deleted
    assert (tmp_path / "edge" / "CURRENT").read_text() == "gen-1"
    assert ranking(index, "a") == before
    assert sorted((c.document_id, c.number) for c in search_all(index, "a")) == found
    assert index.count() == 50
    assert index.wait_optimized(0)


def test_answers_and_keeps_updates_made_during_the_optimise(
    index: EdgeIndex, tmp_path: Path
) -> None:
    held = Held(index, tmp_path)
    try:
        assert index.child is not None
        assert index.child.process.poll() is None
        assert len(search_all(index, "a")) == 40  # answered while the optimise runs
        updates(index)
        assert index.count(tenant="a") == 47
        assert held.thread.is_alive()
        assert index.child.process.poll() is None
        with pytest.raises(BackendUnavailable):  # the folder has one owner
            EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=None)
        assert generations(tmp_path / "edge") == ["gen-0", "gen-1"]  # the copy survived
        found = sorted((c.document_id, c.number) for c in search_all(index, "a"))
        before = ranking(index, "a")
    finally:
        held.release()
    assert held.error is None
    assert generations(tmp_path / "edge") == ["gen-1"]
    assert index.count(tenant="a") == 47
    assert index.count(tenant="b") == 0
    assert index.count(document_id="doc2") == 7
    assert sorted((c.document_id, c.number) for c in search_all(index, "a")) == found
    assert ranking(index, "a") == before
    index.close()
    again = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=None)
    try:
        assert again.count(tenant="a") == 47
        assert again.count(tenant="b") == 0
        assert ranking(again, "a") == before
    finally:
        again.close()


def test_killed_child_leaves_the_live_index_whole(index: EdgeIndex, tmp_path: Path) -> None:
    held = Held(index, tmp_path)
    index.upsert(corpus("a", "doc2", 5))
    assert index.child is not None
    index.child.process.kill()
    held.thread.join(60)
    assert isinstance(held.error, BackendUnavailable)
    assert generations(tmp_path / "edge") == ["gen-0"]  # the copy is deleted
    assert index.count(tenant="a") == 45
    assert not index.wait_optimized(0)  # still waiting for an optimise
    index._child_args = []
    index.optimize()  # the next one works
    assert index.count(tenant="a") == 45
    assert index.wait_optimized(0)
    assert generations(tmp_path / "edge") == ["gen-1"]


CRASHING = """
import sys, time
from pathlib import Path
from services.adapters.qdrant_edge import EdgeIndex
from tests.adapters.test_index_contract import DIM, corpus
path, flag = Path(sys.argv[1]), Path(sys.argv[2])
index = EdgeIndex(path, DIM, optimize_idle_s=None, optimize_min_points=1)
index.upsert(corpus("a", "doc1", 30))
index._child_args = ["--hold", str(flag)]
import threading
threading.Thread(target=index.optimize, daemon=True).start()
while not Path(str(flag) + ".optimised").exists():
    time.sleep(0.02)
index.upsert(corpus("a", "doc2", 4))
print(index.child.process.pid, flush=True)
time.sleep(600)
"""


def test_process_killed_between_copy_and_swap(tmp_path: Path) -> None:
    path, flag = tmp_path / "edge", tmp_path / "release"
    owner = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CRASHING), str(path), str(flag)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None
        child = int(owner.stdout.readline())
        assert generations(path) == ["gen-0", "gen-1"]
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(30)
    # the optimise child dies with its parent (PR_SET_PDEATHSIG)
    for _ in range(500):
        if not os.path.exists(f"/proc/{child}") or _zombie(child):
            break
        time.sleep(0.02)
    else:
        raise AssertionError("the optimise child outlived its parent")
    index = EdgeIndex(path, DIM, optimize_idle_s=None)
    try:
        assert generations(path) == ["gen-0"]  # the copy is deleted on open
        assert index.count(tenant="a") == 34  # nothing written before the crash is lost
        assert len(search_all(index, "a")) == 34
    finally:
        index.close()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (FileNotFoundError, IndexError):
        return True


def test_leftovers_of_a_swap_and_the_first_layout(tmp_path: Path) -> None:
    path = tmp_path / "edge"
    first = EdgeIndex(path, DIM, optimize_idle_s=None)
    first.upsert(corpus("a", "doc1", 12))
    first.close()
    # the first layout: the shard's files directly in the folder, no CURRENT
    for entry in (path / "gen-0").iterdir():
        if entry.name != "edge_config.json":
            entry.rename(path / entry.name)
    shutil.rmtree(path / "gen-0")
    (path / "CURRENT").unlink()
    index = EdgeIndex(path, DIM, optimize_idle_s=None)
    try:
        assert generations(path) == ["gen-0"]
        assert index.count(tenant="a") == 12
        index.optimize()
    finally:
        index.close()
    # killed after CURRENT moved on, before the old generation was deleted
    shutil.copytree(path / "gen-1", path / "gen-0")
    (path / "CURRENT.tmp").write_text("gen-0")
    again = EdgeIndex(path, DIM, optimize_idle_s=None)
    try:
        assert generations(path) == ["gen-1"]
        assert again.count(tenant="a") == 12
        assert (path / "edge_config.json").exists()
    finally:
        again.close()


def test_close_during_the_optimise_kills_the_child(index: EdgeIndex, tmp_path: Path) -> None:
    held = Held(index, tmp_path)
    child = index.child
    assert child is not None
    index.close()  # the child is held: close must not wait for it
    held.thread.join(60)
    assert child.process.poll() is not None
    assert isinstance(held.error, BackendUnavailable)
    assert generations(tmp_path / "edge") == ["gen-0"]
    again = EdgeIndex(tmp_path / "edge", DIM, optimize_idle_s=None)
    try:
        assert again.count() == 50
    finally:
        again.close()
