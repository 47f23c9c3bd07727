"""Printing helpers shared by subcommands.

Everything the CLI prints goes through :func:`zhenglian.textsafe.terminal_safe`
(``line``, ``err``) or :func:`~zhenglian.textsafe.json_text_safe`
(``print_json``): server text (task titles, reasons), driver labels and
file names can hold terminal escapes.  A single outside value inside a
line is passed through :func:`safe` first, so that its newlines cannot forge
a line of their own.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from zhenglian.textsafe import json_text_safe, terminal_safe


def safe(value: Any, limit: int = 500) -> str:
    """One outside value (a title, a reason) for a line: escapes shown, newlines too, bounded."""
    return terminal_safe(value, limit=limit)


def print_json(value: Any) -> None:
    sys.stdout.write(json_text_safe(json.dumps(value, ensure_ascii=False, indent=2, default=str)))
    sys.stdout.write("\n")
    sys.stdout.flush()


def line(text: str = "") -> None:
    print(terminal_safe(text, keep_newlines=True), flush=True)


def err(text: str) -> None:
    """A line on stderr (errors, prompts), as safe as :func:`line`."""
    print(terminal_safe(text, keep_newlines=True), file=sys.stderr, flush=True)
