"""JSON from outside (a server, a page), with its nesting bounded before it is parsed.

``json.loads`` recurses once per level of nesting: ``[[[[…]]]]`` a few
thousand deep ends in ``RecursionError``, and whatever walks the result
afterwards may recurse as deep.  :func:`check_depth` measures the nesting
without recursion and without a Python loop per byte: it takes the strings
out (a regular expression exact for valid JSON), keeps only the brackets,
then removes innermost ``[]``/``{}`` pairs, one level per pass, with
``bytes.replace`` — at most ``max_depth`` passes, each linear.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JsonTooDeep(ValueError):
    """The text nests deeper than allowed (or its brackets do not balance)."""


def check_depth(data: bytes, max_depth: int = MAX_DEPTH) -> None:
    """JsonTooDeep unless every bracket of ``data`` (outside strings) nests at most ``max_depth`` deep."""
    brackets = _STRING.sub(b"", data).translate(None, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not brackets:
            return
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):
            break  # unbalanced: json.loads would refuse it; say so here
        brackets = shorter
    if brackets:
        raise JsonTooDeep(f"JSON nested deeper than {max_depth} levels or unbalanced")


def loads(data: bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` of UTF-8 ``data`` after :func:`check_depth`; ValueError for anything that is not JSON."""
    check_depth(data, max_depth)
    try:
        return json.loads(data.decode("utf-8"))
    except RecursionError:  # cannot happen after check_depth; kept as a second fence
        raise JsonTooDeep("JSON nested too deep") from None
    except UnicodeDecodeError as exc:
        raise ValueError(str(exc)) from None
