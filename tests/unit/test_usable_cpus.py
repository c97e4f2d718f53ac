"""Cores a process may use: its affinity, capped by a cgroup v2 CPU quota (containers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services import settings
from services.settings import cgroup_cpu_quota, usable_cpus


@pytest.mark.parametrize(
    ("content", "cores"),
    [
        ("200000 100000\n", 2),
        ("150000 100000", 2),  # 1.5 cores: rounded up
        ("50000 100000", 1),
        ("400000 200000", 2),
        ("max 100000\n", None),  # no limit
        ("", None),
        ("two cores", None),
    ],
)
def test_the_cgroup_quota_in_whole_cores(tmp_path: Path, content: str, cores: int | None) -> None:
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text(content)
    assert cgroup_cpu_quota(str(cpu_max)) == cores


def test_no_cgroup_file_is_no_limit(tmp_path: Path) -> None:
    assert cgroup_cpu_quota(str(tmp_path / "missing")) is None


def test_a_quota_caps_the_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(64)))
    monkeypatch.setattr(settings, "cgroup_cpu_quota", lambda: 2)
    assert usable_cpus() == 2
    monkeypatch.setattr(settings, "cgroup_cpu_quota", lambda: None)
    assert usable_cpus() == 64
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0})
    monkeypatch.setattr(settings, "cgroup_cpu_quota", lambda: 8)
    assert usable_cpus() == 1
