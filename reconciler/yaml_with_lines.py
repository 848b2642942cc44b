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
to the standard constructor, so what it builds is PyYAML's.

Manifests come from pull requests, so the loader also bounds what a few bytes can cost
and never echoes a value in an error (it may be a secret pasted in the wrong place):

- Aliases share nodes, so a few hundred bytes can describe a billion values (the
  "billion laughs"); whoever walks the data later (validation, JSON) pays for every
  one. A document whose collections are shared is measured before it is built: its
  expanded size is summed once per distinct node, and a file whose aliases expand past
  :data:`MAX_EXPANDED_NODES` values, or a node that contains itself, is refused. The
  plain happy path (no shared collections) pays nothing for it.
- A value its tag cannot build (``!!int abc``, an impossible date such as
  ``2024-02-30``, ``!!bool maybe``) raises PyYAML's ConstructorError at the value with
  our own message, never Python's ``invalid literal ... 'abc'`` nor an internal error;
  unknown tags (``!secret...``: a password starting with "!" is a tag) are reported
  without the tag's text.

Both hold for the libyaml loader and for the pure-Python one (:class:`PureStrictLoader`,
used where libyaml is missing; tests run both).
"""

from __future__ import annotations

import gc
import re
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


MAX_EXPANDED_NODES = 1_000_000  # values a file's aliases may expand its documents to


class _SharedNode(Exception):
    """A collection node reached twice (an alias): the standard constructor takes over."""


_TAG_NAMES = {
    "tag:yaml.org,2002:int": "an integer", "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean", "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:timestamp": "a date or timestamp", "tag:yaml.org,2002:binary": "base64 binary data",
}


def _unbuildable(node: yaml.Node) -> ConstructorError:
    """The error for a value its tag cannot build; names the tag's type, never the value."""
    what = _TAG_NAMES.get(node.tag, "the type its tag names")
    return ConstructorError(None, None, f"this value is not valid as {what} (quote it to keep it as text)",
                            node.start_mark)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def expanded_size(root: yaml.Node, limit: int) -> int:
    """How many values ``root`` stands for once every alias is written out.

    Each distinct node is measured once (memoized by identity), so this is linear in the
    size of the text even when the answer is astronomical. Raises ConstructorError when
    the size passes ``limit`` or a node contains itself (a recursive alias).
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()  # the nodes on the way from the root to the current one
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            entered.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > limit:
                raise ConstructorError(
                    None, None, f"aliases expand this file to more than {MAX_EXPANDED_NODES:,} values "
                    "(a \"billion laughs\"); write the values out or use fewer aliases", node.start_mark)
            sizes[key] = total
        elif key in entered:
            raise ConstructorError(None, None, "an alias refers to a collection that contains it "
                                   "(a recursive structure); manifests must be finite", node.start_mark)
        elif key not in sizes:
            children = _children(node)
            if not children:
                sizes[key] = 1
                continue
            entered.add(key)
            stack.append((node, True))
            stack.extend((child, False) for child in children)
    return sizes[id(root)]


def _implicit_table(resolver: type[Resolver]) -> dict[str, tuple[tuple[str, Any], ...]]:
    """first character -> (tag, regexp) pairs to try, as ``Resolver.resolve`` tries them."""
    table = resolver.yaml_implicit_resolvers
    wildcard = tuple(table.get(None, ()))
    return {first: tuple(pairs) + wildcard for first, pairs in table.items() if first is not None}


class _Strict:
    """Safe loading that refuses duplicate mapping keys (PyYAML keeps the last one), bounds
    alias expansion and reports values its tags cannot build (see the module docstring).

    ``document_lines`` collects the 1-based line where each constructed document starts.
    Mixed into libyaml's loader (:class:`StrictLoader`) and PyYAML's (:class:`PureStrictLoader`).
    """

    yaml_path_resolvers: Any
    yaml_constructors: Any
    constructed_objects: Any
    recursive_objects: Any
    deep_construct: bool

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)  # type: ignore[call-arg]
        self.document_lines: list[int] = []
        self.expansion_left = MAX_EXPANDED_NODES

    def _check_expansion(self, node: yaml.Node) -> None:
        """Charge the expanded size of ``node`` (it shares nodes) to this file's budget."""
        self.expansion_left -= expanded_size(node, self.expansion_left)

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """``Resolver.resolve`` without its per-call list building (called for every node)."""
        if self.yaml_path_resolvers:  # never for this class; kept for subclasses
            return super().resolve(kind, value, implicit)  # type: ignore[misc, no-any-return]
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
            self._check_expansion(node)
            return super().construct_document(node)  # type: ignore[misc]
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
                try:
                    return self.yaml_constructors[tag](self, node)
                except yaml.YAMLError:
                    raise
                except Exception:  # noqa: BLE001 - int("abc"), date(2024, 2, 30), ...: the value is wrong
                    raise _unbuildable(node) from None
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
        if _children(node):  # merge keys, non-string keys, other tags: PyYAML builds it, shared nodes and all
            self._check_expansion(node)
        return self.construct_object(node, deep=True)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with a value its tag cannot build reported at the value, without the value."""
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[misc]
        except (yaml.YAMLError, RecursionError):
            raise
        except Exception:  # noqa: BLE001 - e.g. !!bool maybe (KeyError), !!set [a] (TypeError)
            raise _unbuildable(node) from None

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
        return super().construct_mapping(node, deep=deep)  # type: ignore[misc, no-any-return]


class StrictLoader(_Strict, _BaseLoader):  # type: ignore[misc, valid-type]
    """The loader every YAML file of authctl is read with: libyaml's when installed."""


class PureStrictLoader(_Strict, yaml.SafeLoader):  # type: ignore[misc]
    """The same rules on PyYAML's pure-Python loader (where libyaml is missing; tests use both)."""


for _loader in (StrictLoader, PureStrictLoader):
    _loader.add_constructor(
        "tag:yaml.org,2002:map",
        lambda loader, node: loader.construct_mapping(node, deep=True),
    )
_IMPLICIT = _implicit_table(StrictLoader)
_WILDCARD = tuple(StrictLoader.yaml_implicit_resolvers.get(None, ()))


def load_all(text: str) -> list[Any]:
    """Every document of a multi-document YAML text, empty documents as None."""
    return [data for data, _ in load_documents(text)]


def load_documents(text: str, loader_class: type[_Strict] = StrictLoader) -> list[tuple[Any, int]]:
    """(data, 1-based line where it starts) of every document; empty documents as None."""
    loader: Any = loader_class(text)
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
    problem = _without_names(getattr(exc, "problem", None) or "invalid YAML")
    if "nesting depth" in problem:  # libyaml >= 0.2.6 has its own limit; say it in our words either way
        return line or (nesting_line(text) if text is not None else 0), NESTED_TOO_DEEPLY
    last_line = max(1, len(text.splitlines())) if text is not None else line
    if line > last_line:  # libyaml puts end-of-input errors on the line after the last one
        line = last_line
        if "end of stream" not in problem:
            problem = f"{problem} at the end of the file"
    context = _without_names(getattr(exc, "context", None) or "")
    context_mark = getattr(exc, "context_mark", None)
    if context and problem != context:
        if context_mark is not None and context_mark.line + 1 != line and context_mark.line < last_line:
            context = f"{context} that starts on line {context_mark.line + 1}"
        problem = f"{problem} ({context})"
    return line, problem


_UNKNOWN_TAG = ("unknown YAML tag; manifests are plain YAML (text, numbers, true/false, null, lists and "
                "mappings): put a value that starts with an exclamation mark in quotes")
# PyYAML messages that quote a piece of the input: the tag, an alias or anchor name (a password
# that starts with "!", "*" or "&" is read as one). libyaml's own messages quote nothing.
_QUOTED_NAME = re.compile(r"^(found undefined alias|found duplicate anchor|found unknown escape character)"
                          r"\s*(?:'[^']*'|\"[^\"]*\")(.*)$", re.DOTALL)


def _without_names(message: str) -> str:
    """A PyYAML message without the tag, alias or anchor text it quotes from the input."""
    if message.startswith("could not determine a constructor for the tag"):
        return _UNKNOWN_TAG
    match = _QUOTED_NAME.match(message)
    return match.group(1) + match.group(2) if match else message


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
