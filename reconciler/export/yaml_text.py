"""The text of the files ``authctl export`` writes: a header comment, then the documents. Pure.

Labels, descriptions, job names and config come from the platform and may hold anything
(quotes, newlines, ``: ``, ``!!python/object``, ``&anchors``, control characters, ``{{ }}``).
So documents are only ever written by PyYAML's safe dumper (never a string template),
which quotes and escapes whatever needs it, and then every Jinja2 marker in the text
(``{{``, ``{%``, ``{#``: manifests are rendered with Jinja2 before YAML reads them) becomes
an expression that prints it, ``{{ "{" }}``, so rendering gives back exactly the text
written. Comments hold only names authctl made, catalog words and the workspace's own
settings, with anything unprintable replaced (a YAML comment ends at a line break, and
YAML also breaks lines at U+0085, U+2028 and U+2029).

Speed (60,000 documents, 21 MB): the safe dumper spends most of its time in the
pure-Python representer and in resolving every scalar twice. :func:`dump_documents`
gives libyaml's safe emitter (``CSafeDumper``) the same nodes its representer builds with
``default_flow_style=None`` (strings, mappings and lists built directly; every other
value through the safe representer), with no aliases and each distinct scalar resolved
once: the text is the same as ``yaml.dump(..., Dumper=CSafeDumper)`` byte for byte (a
test compares them), in about a third of the time.
"""

from __future__ import annotations

import io
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from reconciler.export.documents import ConfigToFill, Export, ExportedFile, SecretVariable
from reconciler.export.forked import map_shared

try:  # libyaml's emitter: the same YAML, several times faster
    from yaml import CSafeDumper as _BaseDumper
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


class _Dumper(_BaseDumper):  # type: ignore[misc,valid-type]
    """The safe dumper, never writing an alias (each value is written out), resolving each distinct scalar once."""

    # value -> tag when written plain / quoted (the emitter asks both of each scalar): pure, so shared
    _as_plain: dict[str, str] = {}
    _as_quoted: dict[str, str] = {}

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is not ScalarNode:
            return super().resolve(kind, value, implicit)
        cache = self._as_plain if implicit[0] else self._as_quoted
        tag = cache.get(value)
        if tag is None:
            tag = cache[value] = super().resolve(kind, value, implicit)
        return tag

    def node(self, value: Any) -> Any:
        """The node ``safe_dump(default_flow_style=None)`` makes of ``value`` (flow style for leaf collections)."""
        kind = type(value)
        if kind is str:
            return ScalarNode(_STR, value)
        if kind is dict:
            pairs = [(self.node(k), self.node(v)) for k, v in value.items()]
            return MappingNode(_MAP, pairs, flow_style=all(type(k) is ScalarNode and type(v) is ScalarNode
                                                           for k, v in pairs))
        if kind is list:
            items = [self.node(v) for v in value]
            return SequenceNode(_SEQ, items, flow_style=all(type(v) is ScalarNode for v in items))
        return self.represent_data(value)


_JINJA_MARKER = re.compile(r"\{(?=[{%#])")
_PRINTS_BRACE = '{{ "{" }}'
CHUNK_DOCUMENTS = 2_000  # per file (about 0.7 MB)
PART_BYTES = 1024 * 1024  # per file at most (but one document): manifest files are limited to 4 MiB (loader.py)
PARALLEL_MIN_DOCUMENTS = 10_000  # below this, forking costs more than it saves
WIDTH = 4096  # long labels and descriptions stay on one line (a folded scalar reads back the same, but diffs worse)


@dataclass(frozen=True)
class Provenance:
    """Where and when the export was taken, for the header of each file."""

    when: datetime
    backend: str  # "the embedded platform at .authctl/platform.db"
    environment: str | None
    selection: str  # Selection.describe(); "" for everything
    schema_ref: str  # the editor schema, relative to the file ("../authctl.schema.json")


def comment_safe(text: str) -> str:
    """``text`` on one comment line: every unprintable character (line breaks included) becomes ``?``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else "?" for c in text)


def escape_jinja(text: str) -> str:
    """``text`` that Jinja2 renders back to exactly ``text`` (every ``{{``, ``{%``, ``{#`` printed by an expression)."""
    return _JINJA_MARKER.sub(_PRINTS_BRACE, text)


def dump_documents(documents: Iterable[dict[str, Any]], *, limit: int | None = None) -> list[tuple[str, int]]:
    """YAML text of ``documents`` (each starting ``---``), cut into pieces of about ``limit`` bytes (UTF-8).

    Returns (text, number of documents) per piece; a piece ends after the document that
    takes it past ``limit`` (so one document larger than ``limit`` makes a piece alone).
    """
    pieces: list[tuple[str, int]] = []

    def start() -> tuple[io.BytesIO, _Dumper]:
        stream = io.BytesIO()
        dumper = _Dumper(stream, explicit_start=True, allow_unicode=True, width=WIDTH, sort_keys=False,
                         encoding="utf-8")
        dumper.open()
        return stream, dumper

    stream, dumper = start()
    count = 0
    try:
        for document in documents:
            dumper.serialize(dumper.node(document))
            count += 1
            if limit is not None and stream.tell() >= limit:
                dumper.close()
                pieces.append((stream.getvalue().decode("utf-8"), count))
                dumper.dispose()
                stream, dumper = start()
                count = 0
        dumper.close()
    finally:
        dumper.dispose()
    if count or not pieces:
        pieces.append((stream.getvalue().decode("utf-8"), count))
    return pieces


def dump_document(document: dict[str, Any]) -> str:
    """One document, as :func:`dump_documents` writes it."""
    return dump_documents([document])[0][0]


def _comments(lines: Iterable[str]) -> str:
    return "".join(f"# {comment_safe(line)}".rstrip() + "\n" for line in lines)


def _origin(provenance: Provenance) -> str:
    where = provenance.backend
    if provenance.environment:
        where += f" (environment {provenance.environment})"
    if provenance.selection:
        where += f", selected by {provenance.selection}"
    return f"{provenance.when:%Y-%m-%d %H:%M:%S} UTC from {where}"


def _checklist(exported: ExportedFile) -> list[str]:
    lines: list[str] = []
    if exported.variables:
        width = max(len(v.variable) for v in exported.variables)
        lines += ["", "Secrets are write-only on the platform: set these variables (or make each a {file: PATH})",
                  "before `authctl apply`; `authctl import --all-matching` then records them:"]
        lines += [f"  {v.variable.ljust(width)}  {v.address} {v.credential}" for v in exported.variables]
    if exported.fill_in:
        lines += ["", "Config is write-only on the platform too: fill in each null value (`authctl validate` names",
                  "each one until it is done):"]
        lines += [f"  {c.address} config.{c.field} ({c.title})" for c in exported.fill_in]
    return lines


def _header(exported: ExportedFile, provenance: Provenance, renamed: dict[str, str], part: tuple[int, int]) -> str:
    counts = f"{_count(exported.authorizations, 'authorization')} and {_count(exported.jobs, 'job')}"
    of_parts = f" (file {part[0]} of {part[1]})" if part[1] > 1 else ""
    lines = [f"Written by `authctl export` at {_origin(provenance)}:",
             f"{counts} of provider {exported.provider}{of_parts}, as the platform shows them.",
             "Review, then: `authctl validate`, `authctl import --all-matching` (brings the live objects under",
             "these manifests), `authctl plan` (no changes but what is still to supply)."]
    lines += _checklist(exported)
    jobs = [d["metadata"]["name"] for d in exported.documents if d["kind"] == "Job"]
    here = [(f"Job/{name}", renamed[f"Job/{name}"]) for name in jobs if f"Job/{name}" in renamed]
    if here:
        lines += ["", "A job's name on the platform is its manifest name; the next apply renames these:"]
        lines += [f"  {address} (now {json.dumps(live)})" for address, live in here]
    return f"# yaml-language-server: $schema={comment_safe(provenance.schema_ref)}\n" + _comments(lines)


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


@dataclass(frozen=True)
class WrittenFile:
    """One file export writes: its name (``PROVIDER.yaml``, ``PROVIDER-2.yaml``, ...), text and counts."""

    name: str
    provider: str
    text: str
    authorizations: int
    jobs: int


def _dump_chunk(documents: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return dump_documents(documents, limit=PART_BYTES)


def _part(exported: ExportedFile, documents: list[dict[str, Any]], variables: dict[str, list[SecretVariable]],
          fill_in: dict[str, list[ConfigToFill]]) -> ExportedFile:
    """One file's share of a provider: its documents, and the variables and config they need."""
    part = ExportedFile(exported.provider, documents)
    for document in documents:
        if document["kind"] == "Job":
            part.jobs += 1
            continue
        address = f"Authorization/{document['metadata']['name']}"
        part.authorizations += 1
        part.variables += variables.get(address, ())
        part.fill_in += fill_in.get(address, ())
    return part


def render_files(export: Export, provenance: Provenance) -> list[WrittenFile]:
    """Every file export writes, provider by provider.

    A provider's documents go into files of :data:`CHUNK_DOCUMENTS` documents (or fewer,
    to stay under :data:`PART_BYTES`: manifest files are limited to 4 MiB, and the loader
    reads several files at once), each with its own header listing what its own documents
    need. The chunks are written on two CPUs where there are two (forked.py): the files
    depend only on the documents, never on how many CPUs wrote them.
    """
    chunks = [(index, exported.documents[start:start + CHUNK_DOCUMENTS])
              for index, exported in enumerate(export.files)
              for start in range(0, len(exported.documents), CHUNK_DOCUMENTS)]
    dumped = map_shared(_dump_chunk, [documents for _, documents in chunks],
                        [len(documents) for _, documents in chunks], minimum=PARALLEL_MIN_DOCUMENTS)
    pieces: dict[int, list[tuple[list[dict[str, Any]], str]]] = defaultdict(list)
    for (index, documents), texts in zip(chunks, dumped, strict=True):
        start = 0
        for text, count in texts:
            pieces[index].append((documents[start:start + count], text))
            start += count
    renamed = {r.address: r.live_name for r in export.renamed_jobs}
    written = []
    for index, exported in enumerate(export.files):
        variables: dict[str, list[SecretVariable]] = defaultdict(list)
        for variable in exported.variables:
            variables[variable.address].append(variable)
        fill_in: dict[str, list[ConfigToFill]] = defaultdict(list)
        for config in exported.fill_in:
            fill_in[config.address].append(config)
        parts = pieces[index]
        for number, (documents, body) in enumerate(parts, start=1):
            part = _part(exported, documents, variables, fill_in)
            name = exported.file_name if number == 1 else f"{exported.provider}-{number}.yaml"
            text = _header(part, provenance, renamed, (number, len(parts))) + body
            written.append(WrittenFile(name, exported.provider, escape_jinja(text), part.authorizations, part.jobs))
    return written


def stream_text(export: Export, provenance: Provenance) -> str:
    """Every document as one YAML stream (export without -o): each file's header, one schema line at the top."""
    texts = [f.text for f in render_files(export, provenance)]
    return "\n".join([*texts[:1], *(text.split("\n", 1)[1] for text in texts[1:])])
