"""The CLI's rich console: a terminal gets its own width; a file or a pipe gets whole lines
(rich would cut and wrap them at 80 columns when stdout is not a terminal)."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 200
"""Columns of tables and rules when stdout is a file or a pipe; lines are not wrapped."""


def make_console() -> Console:
    if sys.stdout.isatty():
        return Console()
    return Console(soft_wrap=True, width=PIPED_WIDTH)
