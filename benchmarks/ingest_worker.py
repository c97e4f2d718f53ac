"""`celery -A workers.main worker ARGS` for benchmarks.ingest --shape production, with one
work-around applied first.

At the commit this was written against, a standalone `celery -A workers.main worker` dies
on start: `workers.metrics._on_setup_logging` passes Celery's `current_app` *proxy* to
`settings_of`, whose WeakKeyDictionary cannot take a weak reference to a proxy
("TypeError: cannot create weak reference to 'Proxy' object"). The fix belongs in
workers/metrics.py (`current_app._get_current_object()`); until then this launcher unwraps
the proxy before the lookup and changes nothing else. Once fixed, it is a plain
`celery -A workers.main worker`.

Run: `python -m benchmarks.ingest_worker -Q ingest -n w1@%h --pool threads ...`
"""

from __future__ import annotations

import sys
from typing import Any

from workers import metrics


def _unwrapping(lookup: Any) -> Any:
    def settings_of(app: Any) -> Any:
        unwrap = getattr(app, "_get_current_object", None)
        return lookup(unwrap() if callable(unwrap) else app)

    return settings_of


def main() -> None:
    metrics.settings_of = _unwrapping(metrics.settings_of)
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "workers.main", "worker", *sys.argv[1:]]
    sys.exit(celery_main())


if __name__ == "__main__":
    main()
