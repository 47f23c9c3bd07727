"""JSON from outside (a server, a page), with its nesting bounded before it is parsed.

``json.loads`` recurses once per level of nesting: ``[[[[…]]]]`` a few
thousand deep ends in ``RecursionError``, and whatever walks the result
afterwards may recurse as deep.  :func:`check_depth` measures the nesting
without recursion and without a Python loop per byte: it takes the strings
out (a regular expression exact for valid JSON), keeps only the brackets,
removes the innermost ``[]``/``{}`` pairs a few levels deep with
``bytes.replace``, and measures what is left by a running sum of +1/-1
(``itertools.accumulate`` over a signed byte array) — linear, no recursion.
"""

from __future__ import annotations

import array
import itertools
import json
import re
from typing import Any

MAX_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes(1 if b in b"[{" else 255 if b in b"]}" else 0 for b in range(256))  # 255 = -1 as a signed byte
_QUICK_PASSES = 6


class JsonTooDeep(ValueError):
    """The text nests deeper than allowed (or its brackets do not balance)."""


def check_depth(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """JsonTooDeep unless every bracket of ``data`` (outside strings) nests at most ``max_depth`` deep."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    # A few passes take away the innermost levels of ordinary JSON at bytes.replace speed ...
    removed = 0
    while brackets and removed < min(_QUICK_PASSES, max_depth):
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            raise JsonTooDeep("JSON brackets do not balance")  # json.loads would refuse it anyway
        brackets, removed = shorter, removed + 1
    if not brackets:
        return
    # ... the rest is measured in one linear pass: the running sum of +1/-1 (a C loop, no recursion).
    deepest = max(itertools.accumulate(array.array("b", brackets.translate(_STEP))))
    if removed + deepest > max_depth:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels")


def loads(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` of UTF-8 ``data`` after :func:`check_depth`; ValueError for anything that is not JSON."""
    check_depth(data, max_depth)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:  # cannot happen after check_depth; kept as a second fence
        raise JsonTooDeep("JSON nested too deep") from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None
