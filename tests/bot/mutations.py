"""Real payloads with one field at a time replaced by a value of another type: what a door
must answer with a 200 or a 400, never a 5xx."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any


def _paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, (*path, index))


def mutations(body: dict[str, Any], odd_values: Sequence[Any]) -> Iterator[dict[str, Any]]:
    """`body` once per field (at any depth) and odd value, with that field set to it."""
    for path in _paths(body):
        for odd in odd_values:
            changed = copy.deepcopy(body)
            where: Any = changed
            for step in path[:-1]:
                where = where[step]
            where[path[-1]] = odd
            yield changed
