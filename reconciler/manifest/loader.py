"""Read manifest files: bytes -> UTF-8 text -> Jinja2 -> YAML documents.

Each stage reports problems as diagnostics naming file and line and keeps going with
the other files, so one run shows every broken file.

Every stage is bounded, since manifests come from pull requests: a file is read with
``O_NONBLOCK`` and at most ``MAX_FILE_BYTES + 1`` bytes, and only if it is a regular file
(reconciler/file_reads.py); templates run within the budgets of
reconciler/manifest/template_bounds.py; YAML aliases may not expand a file past
``yaml_with_lines.MAX_EXPANDED_NODES`` values. Template and YAML errors never quote a line
that names a secret field (reconciler/manifest/redact.py).

Files are independent until validation, so a big workspace on a multi-core Linux machine
is read by two processes: a forked child reads, renders and parses the last files while
this process does the first ones (and validates them as they come), then the child sends
its results back as one pickle. The order of files, documents and diagnostics is the
same as when everything runs here; if the child fails in any way its files are simply
read here.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from reconciler.errors import Diagnostic, DiagnosticSink, Where
from reconciler.file_reads import FileRefused, describe_size, limit_text, read_regular_file
from reconciler.forked_child import ForkedChild
from reconciler.manifest.redact import redact
from reconciler.manifest.templating import jinja_environment, render
from reconciler.yaml_with_lines import NESTED_TOO_DEEPLY, SourceMap, load_documents, nesting_line, yaml_error_line

MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class RawDocument:
    """One YAML document before validation, with where it came from."""

    file: str
    index: int  # position in the file, counting empty documents
    data: Any
    source: SourceMap
    start_line: int = 0  # 1-based line where the document starts, known without the SourceMap

    def line(self, path: Iterable[Any] = ()) -> int:
        """Line of the field at ``path`` now (composes the file's nodes if a path is given)."""
        path = tuple(path)
        if not path and self.start_line:
            return self.start_line
        return self.source.line(self.index, path) or 1

    def where(self, path: Iterable[Any] = ()) -> Where:
        """Where the field at ``path`` is, for a diagnostic whose line is looked up only if it is shown."""
        return Where(self.source, self.index, tuple(path), self.start_line)


@dataclass
class LoadedFiles:
    documents: list[RawDocument]
    digest: str


# A second process pays off from about half a MiB of manifests on (fork + pickling cost ~50 ms):
# a plan over 2,000 authorizations (0.8 MB) went from 1.47 s to 1.20 s (median, 2 cores).
PARALLEL_MIN_BYTES = 512 * 1024
# Share of the bytes this process keeps: it also validates documents while the child works.
_PARENT_SHARE = 0.5


def read_documents(files: list[tuple[Path, str]], variables: dict[str, Any],
                   sink: DiagnosticSink, secret_names: frozenset[str] = frozenset()) -> LoadedFiles:
    """Read, render and parse every file; ``files`` pairs a path with its display name."""
    reader = DocumentReader(files, variables, sink, secret_names=secret_names)
    documents = list(reader)
    return LoadedFiles(documents, reader.digest)


class DocumentReader:
    """The documents of ``files`` in order, as an iterator; problems go to ``sink``.

    Iterating lets a consumer validate the first files while the last ones are still being
    read by another process. ``digest`` (sha256 of the rendered files) is complete once the
    iteration is. ``parallel=None`` decides from the machine and the size of the files.
    ``secret_names`` are the field names the catalog marks secret: errors on lines naming
    one quote nothing (reconciler/manifest/redact.py). ``on_started`` is called once reading
    has begun and any child process exists: a caller may start threads from then on
    (a process with threads is never forked, so a thread started earlier would cost the
    parallel read).
    """

    def __init__(self, files: list[tuple[Path, str]], variables: dict[str, Any],
                 sink: DiagnosticSink, *, parallel: bool | None = None,
                 secret_names: frozenset[str] = frozenset(),
                 on_started: Callable[[], None] | None = None) -> None:
        self.files = files
        self.variables = variables
        self.sink = sink
        self.parallel = parallel
        self.secret_names = secret_names
        self.on_started = on_started
        self._digest = hashlib.sha256()

    @property
    def digest(self) -> str:
        return self._digest.hexdigest()

    def __iter__(self) -> Iterator[RawDocument]:
        for result in self._results():
            self.sink.items.extend(result.diagnostics)
            if result.rendered is None:
                continue
            self._digest.update(result.display.encode() + b"\0" + result.rendered.encode() + b"\0")
            source = SourceMap(result.rendered)
            for index, (data, start_line) in enumerate(result.documents):
                if data is not None:
                    yield RawDocument(result.display, index, data, source, start_line)

    def _results(self) -> Iterator[_FileResult]:
        parallel = _can_fork(self.files) if self.parallel is None else self.parallel
        split = _split_point(self.files) if parallel and len(self.files) > 1 else len(self.files)
        head, tail = self.files[:split], self.files[split:]
        worker = _Worker(tail, self.variables, self.secret_names) if tail else None
        try:
            if self.on_started is not None:
                self.on_started()
            yield from _load_files(head, self.variables, self.secret_names)
            results = worker.results() if worker else None
            if worker and results is None:  # the child failed: read its files here
                results = _load_files(tail, self.variables, self.secret_names)
            yield from results or ()
        finally:
            if worker:
                worker.stop()


@dataclass
class _FileResult:
    """One file read, rendered and parsed: plain data, so that a child process can send it."""

    display: str
    rendered: str | None  # None when the file could not be read or rendered
    documents: list[tuple[Any, int]] = field(default_factory=list)  # (data, start line); empty: None
    diagnostics: list[Diagnostic] = field(default_factory=list)


def _load_files(files: list[tuple[Path, str]], variables: dict[str, Any],
                secret_names: frozenset[str] = frozenset()) -> Iterator[_FileResult]:
    environment = jinja_environment()
    for path, display in files:
        yield _load_file(path, display, environment, variables, secret_names)


def _load_file(path: Path, display: str, environment: jinja2.Environment,
               variables: dict[str, Any], secret_names: frozenset[str] = frozenset()) -> _FileResult:
    sink = DiagnosticSink()
    result = _FileResult(display, None, diagnostics=sink.items)
    text = _read_text(path, display, sink)
    if text is None:
        return result
    result.rendered = render(environment, text, display, variables, sink)
    if result.rendered is None:
        redact(sink.items, text, secret_names, "template error")
        return result
    rendered = result.rendered
    _parse(rendered, display, result, sink)
    if sink.items:
        redact(sink.items, rendered, secret_names, "invalid YAML")
    return result


def _parse(rendered: str, display: str, result: _FileResult, sink: DiagnosticSink) -> None:
    try:
        result.documents = load_documents(rendered)
    except yaml.YAMLError as exc:
        line, problem = yaml_error_line(exc, rendered)
        sink.error(f"invalid YAML: {problem}", file=display, line=line, rule="invalid-yaml")
    except RecursionError:
        sink.error(f"invalid YAML: {NESTED_TOO_DEEPLY}", file=display, line=nesting_line(rendered),
                   rule="invalid-yaml")
    except ValueError:  # a value PyYAML could not build outside our constructors: never quote it
        sink.error("invalid YAML: a value cannot be read", file=display, rule="invalid-yaml")


def _can_fork(files: list[tuple[Path, str]]) -> bool:
    """Fork only where it is safe and pays: Linux, 2+ CPUs, no other threads, big input."""
    if sys.platform != "linux" or not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    if len(os.sched_getaffinity(0)) < 2:
        return False
    total = 0
    for path, _ in files:
        try:
            total += path.stat().st_size
        except OSError:
            pass
        if total >= PARALLEL_MIN_BYTES:
            return True
    return False


def _split_point(files: list[tuple[Path, str]]) -> int:
    """Index of the first file for the child: this process keeps ``_PARENT_SHARE`` of the bytes."""
    sizes = []
    for path, _ in files:
        try:
            sizes.append(path.stat().st_size)
        except OSError:
            sizes.append(0)
    budget, kept = sum(sizes) * _PARENT_SHARE, 0
    for index, size in enumerate(sizes):
        kept += size
        if kept >= budget:
            return max(1, min(index + 1, len(files) - 1))
    return len(files) - 1


class _Worker(ForkedChild[list["_FileResult"]]):
    """A forked child that loads ``files`` (see reconciler/forked_child.py)."""

    def __init__(self, files: list[tuple[Path, str]], variables: dict[str, Any],
                 secret_names: frozenset[str] = frozenset()) -> None:
        super().__init__(lambda: list(_load_files(files, variables, secret_names)))

    def results(self) -> list[_FileResult] | None:
        """The child's results, or None if it failed (the caller then loads the files itself)."""
        return self.result()


def _read_text(path: Path, display: str, sink: DiagnosticSink) -> str | None:
    try:
        data = read_regular_file(path, MAX_FILE_BYTES)
    except FileRefused as exc:
        if exc.too_large:
            sink.error(f"file {describe_size(exc.size, MAX_FILE_BYTES)}; manifest files are limited to "
                       f"{limit_text(MAX_FILE_BYTES)} (split it into several files)",
                       file=display, line=1, rule="file-too-large")
        else:
            sink.error(f"{exc.reason}; manifests must be regular files", file=display, rule="special-file")
        return None
    except OSError as exc:
        sink.error(f"cannot read file: {exc.strerror}", file=display, rule="unreadable-file")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        sink.error(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                   file=display, line=line, rule="not-utf8")
        return None
