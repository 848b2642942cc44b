"""YAML with line numbers, paid for only when an error needs one.

Loading 60,000 documents must stay fast, so the happy path uses libyaml's
CSafeLoader and builds plain dicts. Line numbers are recovered lazily: a
:class:`SourceMap` composes the file's nodes (in C) the first time an error in
that file needs a line, then walks the node tree along the field path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml
from yaml.constructor import ConstructorError

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate mapping keys (PyYAML keeps the last one)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = key_node.value
                if key in seen:
                    raise ConstructorError(
                        None, None, f"duplicate key {key!r} in a mapping", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    "tag:yaml.org,2002:map",
    lambda loader, node: loader.construct_mapping(node, deep=True),
)


def load_all(text: str) -> list[Any]:
    """Every document of a multi-document YAML text, empty documents as None."""
    return list(yaml.load_all(text, Loader=StrictLoader))


def yaml_error_line(exc: yaml.YAMLError, text: str | None = None) -> tuple[int, str]:
    """(1-based line, problem) of a PyYAML error, without echoing the input text.

    ``text`` (the parsed text) locates reader errors, which carry a character offset.
    """
    if isinstance(exc, yaml.reader.ReaderError):
        char = exc.character
        code = char if isinstance(char, int) else (char[0] if char else 0)
        line = text.count("\n", 0, exc.position) + 1 if text is not None else 0
        return line, f"character #x{code:04x} is not allowed ({exc.reason})"
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 0
    problem = getattr(exc, "problem", None) or "invalid YAML"
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and problem != context:
        if context_mark is not None and context_mark.line + 1 != line:
            context = f"{context} that starts on line {context_mark.line + 1}"
        problem = f"{problem} ({context})"
    return line, problem


def nesting_line(text: str, limit: int = 100) -> int:
    """1-based line where collections nest deeper than ``limit``, or 0 (for error messages).

    Walks parser events, which needs no recursion, so it works where composing fails.
    """
    depth = 0
    try:
        for event in yaml.parse(text, Loader=_BaseLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > limit:
                    return event.start_mark.line + 1
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
    except yaml.YAMLError:
        pass
    return 0


def line_of(node: yaml.Node | None, path: Sequence[Any]) -> int:
    """1-based line of the deepest key along ``path`` that exists under ``node``.

    A missing field reports the line of its parent, which is where the user must add it.
    """
    if node is None:
        return 0
    line = node.start_mark.line + 1
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


class SourceMap:
    """Lazily composed nodes of one rendered file, for locating fields by path."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._documents: list[yaml.Node | None] | None = None

    def _nodes(self) -> list[yaml.Node | None]:
        if self._documents is None:
            try:
                self._documents = list(yaml.compose_all(self._text, Loader=_BaseLoader))
            except (yaml.YAMLError, RecursionError, ValueError):
                self._documents = []
        return self._documents

    def line(self, document: int, path: Sequence[Any] = ()) -> int:
        nodes = self._nodes()
        if 0 <= document < len(nodes):
            return line_of(nodes[document], path)
        return 0
