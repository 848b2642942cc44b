"""YAML with line numbers, paid for only when an error needs one.

Loading 60,000 documents must stay fast, so the happy path uses libyaml's
CSafeLoader and builds plain dicts, keeping only the line where each document
starts (:func:`load_documents`). Other line numbers are recovered lazily: a
:class:`SourceMap` composes the file's nodes (in C) only when a diagnostic in that
file is shown, then walks the node tree along the field path. ``SourceMap.lines``
answers many lookups in one pass (reconciler.diagnostics.resolve_lines batches them
per file): it composes the documents up to the last one asked for and keeps no nodes,
so listing every warning of a big workspace holds one file's nodes at a time.

PyYAML's own constructor and resolver are generic and slow in Python (a method call,
a cache lookup and a generator per node). :class:`StrictLoader` keeps their results
but takes a direct route for the plain str/map/seq nodes manifests are made of, and
hands everything else (other tags, merge keys, duplicate keys, aliased collections)
to the standard constructor, so what it builds and the errors it raises are PyYAML's.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from sys import intern as _intern
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.resolver import Resolver

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
# Scalar tags whose SafeConstructor functions return a plain value (never a generator).
_SCALAR_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "binary",
                                                           "timestamp"))


class _SharedNode(Exception):
    """A collection node reached twice (an alias): the standard constructor takes over."""


def _implicit_table(resolver: type[Resolver]) -> dict[str, tuple[tuple[str, Any], ...]]:
    """first character -> (tag, regexp) pairs to try, as ``Resolver.resolve`` tries them."""
    table = resolver.yaml_implicit_resolvers
    wildcard = tuple(table.get(None, ()))
    return {first: tuple(pairs) + wildcard for first, pairs in table.items() if first is not None}


class StrictLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that refuses duplicate mapping keys (PyYAML keeps the last one).

    ``document_lines`` collects the 1-based line where each constructed document starts.
    """

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.document_lines: list[int] = []

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """``Resolver.resolve`` without its per-call list building (called for every node)."""
        if self.yaml_path_resolvers:  # never for this class; kept for subclasses
            return super().resolve(kind, value, implicit)  # type: ignore[no-any-return]
        if kind is yaml.ScalarNode:
            if implicit[0]:
                for tag, regexp in _IMPLICIT.get(value[:1], _WILDCARD):
                    if regexp.match(value):
                        return tag  # type: ignore[no-any-return]
            return _STR_TAG
        return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG

    def construct_document(self, node: yaml.Node) -> Any:
        self.document_lines.append(node.start_mark.line + 1)
        try:
            data = self._build(node, set())
        except _SharedNode:
            return super().construct_document(node)
        self.constructed_objects = {}
        self.recursive_objects = {}
        self.deep_construct = False
        return data

    def _build(self, node: yaml.Node, seen: set[int]) -> Any:
        """What ``construct_object(node, deep=True)`` returns, faster for plain nodes."""
        cls, tag = node.__class__, node.tag
        if cls is yaml.ScalarNode:
            if tag == _STR_TAG:
                return node.value
            if tag in _SCALAR_TAGS:
                return self.yaml_constructors[tag](self, node)
        elif cls is yaml.MappingNode and tag == _MAP_TAG:
            if id(node) in seen:
                raise _SharedNode
            seen.add(id(node))
            keys: list[str] | None = []
            for key_node, _ in node.value:
                if key_node.__class__ is not yaml.ScalarNode or key_node.tag != _STR_TAG:
                    keys = None  # merge key, non-string key: PyYAML's rules apply
                    break
                keys.append(_intern(key_node.value))  # one str per distinct key, not per use
            if keys is not None and len(set(keys)) == len(keys):  # duplicates: the error below
                build = self._build
                return {key: build(value, seen) for key, (_, value) in zip(keys, node.value)}
        elif cls is yaml.SequenceNode and tag == _SEQ_TAG:
            if id(node) in seen:
                raise _SharedNode
            seen.add(id(node))
            build = self._build
            return [build(item, seen) for item in node.value]
        return self.construct_object(node, deep=True)

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
_IMPLICIT = _implicit_table(StrictLoader)
_WILDCARD = tuple(StrictLoader.yaml_implicit_resolvers.get(None, ()))


def load_all(text: str) -> list[Any]:
    """Every document of a multi-document YAML text, empty documents as None."""
    return [data for data, _ in load_documents(text)]


def load_documents(text: str) -> list[tuple[Any, int]]:
    """(data, 1-based line where it starts) of every document; empty documents as None."""
    loader = StrictLoader(text)
    try:
        documents = []
        while loader.check_data():
            documents.append(loader.get_data())
        return list(zip(documents, loader.document_lines))
    finally:
        loader.dispose()


NESTED_TOO_DEEPLY = "nested too deeply"


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
    if "nesting depth" in problem:  # libyaml >= 0.2.6 has its own limit; say it in our words either way
        return line or (nesting_line(text) if text is not None else 0), NESTED_TOO_DEEPLY
    last_line = max(1, len(text.splitlines())) if text is not None else line
    if line > last_line:  # libyaml puts end-of-input errors on the line after the last one
        line = last_line
        if "end of stream" not in problem:
            problem = f"{problem} at the end of the file"
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    if context and problem != context:
        if context_mark is not None and context_mark.line + 1 != line and context_mark.line < last_line:
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


class _NodeLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Composes nodes for their positions only: tags are never looked at, so none is resolved."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        return _STR_TAG if kind is yaml.ScalarNode else _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass


class SourceMap:
    """Lazily composed nodes of one rendered file, for locating fields by path.

    ``compositions`` counts how many times the text was composed (tests use it to see
    that lines are looked up only for the diagnostics that are shown).
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._documents: list[yaml.Node | None] | None = None
        self.compositions = 0

    def _compose(self, limit: int | None = None) -> list[yaml.Node | None]:
        """The nodes of the first ``limit`` documents (all when None); what composed before an error."""
        self.compositions += 1
        nodes: list[yaml.Node | None] = []
        loader = _NodeLoader(self._text)
        try:
            while (limit is None or len(nodes) < limit) and loader.check_node():
                nodes.append(loader.get_node())
        except (yaml.YAMLError, RecursionError, ValueError):
            pass
        finally:
            loader.dispose()
        return nodes

    def _nodes(self) -> list[yaml.Node | None]:
        if self._documents is None:
            self._documents = self._compose()
        return self._documents

    def line(self, document: int, path: Sequence[Any] = ()) -> int:
        """1-based line of the field at ``path`` in the ``document``-th document (0: no such document).

        Keeps the composed nodes for the next call; for many lookups use :meth:`lines`.
        """
        nodes = self._nodes()
        if 0 <= document < len(nodes):
            return line_of(nodes[document], path)
        return 0

    def lines(self, requests: Sequence[tuple[int, Sequence[Any]]]) -> list[int]:
        """:meth:`line` of each (document, path), composing the file at most once and keeping nothing.

        The cyclic collector is paused meanwhile: a file's nodes are many objects without
        cycles, freed on return, and with a big workspace loaded each collection they
        trigger would walk the whole heap (listing 28,000 warnings took 3x longer).
        """
        if not requests:
            return []
        if not gc.isenabled():
            return self._lines(requests)
        gc.disable()
        try:
            return self._lines(requests)  # (the nodes are freed before the collector resumes)
        finally:
            gc.enable()

    def _lines(self, requests: Sequence[tuple[int, Sequence[Any]]]) -> list[int]:
        nodes = self._documents
        if nodes is None:
            nodes = self._compose(max(document for document, _ in requests) + 1)
        return [line_of(nodes[document], path) if 0 <= document < len(nodes) else 0
                for document, path in requests]
