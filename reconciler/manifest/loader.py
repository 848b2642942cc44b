"""Read manifest files: bytes -> UTF-8 text -> Jinja2 -> YAML documents.

Each stage reports problems as diagnostics naming file and line and keeps going with
the other files, so one run shows every broken file.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox
import yaml

from reconciler.errors import DiagnosticSink
from reconciler.yamlsource import SourceMap, load_documents, nesting_line, yaml_error_line

MAX_FILE_BYTES = 4 * 1024 * 1024
_JINJA_MARKERS = ("{{", "{%", "{#")


@dataclass(slots=True)
class RawDocument:
    """One YAML document before validation, with where it came from."""

    file: str
    index: int  # position in the file, counting empty documents
    data: Any
    source: SourceMap
    start_line: int = 0  # 1-based line where the document starts, known without the SourceMap

    def line(self, path: Iterable[Any] = ()) -> int:
        """Line of the field at ``path``; only an error needs a path, and pays for the lookup."""
        path = tuple(path)
        if not path and self.start_line:
            return self.start_line
        return self.source.line(self.index, path) or 1


@dataclass
class LoadedFiles:
    documents: list[RawDocument]
    digest: str


def read_documents(files: list[tuple[Path, str]], variables: dict[str, Any],
                   sink: DiagnosticSink) -> LoadedFiles:
    """Read, render and parse every file; ``files`` pairs a path with its display name."""
    environment = _jinja_environment()
    digest = hashlib.sha256()
    documents: list[RawDocument] = []
    for path, display in files:
        text = _read_text(path, display, sink)
        if text is None:
            continue
        rendered = _render(environment, text, display, variables, sink)
        if rendered is None:
            continue
        digest.update(display.encode() + b"\0" + rendered.encode() + b"\0")
        try:
            parsed = load_documents(rendered)
        except yaml.YAMLError as exc:
            line, problem = yaml_error_line(exc, rendered)
            sink.error(f"invalid YAML: {problem}", file=display, line=line)
            continue
        except RecursionError:
            sink.error("invalid YAML: nested too deeply", file=display, line=nesting_line(rendered))
            continue
        except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
            sink.error(f"invalid YAML: {exc}", file=display)
            continue
        source = SourceMap(rendered)
        for index, (data, start_line) in enumerate(parsed):
            if data is not None:
                documents.append(RawDocument(display, index, data, source, start_line))
    return LoadedFiles(documents, digest.hexdigest())


def _read_text(path: Path, display: str, sink: DiagnosticSink) -> str | None:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            sink.error(
                f"file is {size / 1048576:.1f} MiB; manifest files are limited to "
                f"{MAX_FILE_BYTES // 1048576} MiB (split it into several files)",
                file=display, line=1,
            )
            return None
        data = path.read_bytes()
    except OSError as exc:
        sink.error(f"cannot read file: {exc.strerror}", file=display)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        sink.error(f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                   file=display, line=line)
        return None


def _jinja_environment() -> jinja2.Environment:
    # Sandboxed: manifests come from pull requests, and `plan` runs on them in CI; a template
    # must not reach Python internals (``cycler.__init__.__globals__.os`` and the like).
    return jinja2.sandbox.ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        loader=jinja2.FunctionLoader(lambda name: None),
    )


def _render(environment: jinja2.Environment, text: str, display: str,
            variables: dict[str, Any], sink: DiagnosticSink) -> str | None:
    """Render with StrictUndefined; files without Jinja syntax are returned as they are."""
    if not any(marker in text for marker in _JINJA_MARKERS):
        return text
    try:
        template = environment.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        sink.error(f"template error: {exc.message}", file=display, line=exc.lineno or 1)
        return None
    except RecursionError:
        sink.error("template error: expression nested too deeply", file=display, line=1)
        return None
    try:
        return template.render(**variables)
    except jinja2.TemplateNotFound as exc:
        sink.error(f'template error: cannot load template "{exc.name}": manifests cannot include, '
                   "import or extend other templates", file=display, line=_template_line(exc))
    except jinja2.sandbox.SecurityError as exc:
        sink.error(f"template error: not allowed in manifests: {exc}", file=display,
                   line=_template_line(exc))
    except jinja2.UndefinedError as exc:
        sink.error(f"template error: {exc.message} (define it under vars or "
                   "environments.<env>.vars in authctl.yaml)", file=display, line=_template_line(exc))
    except jinja2.TemplateError as exc:
        sink.error(f"template error: {exc.message or type(exc).__name__}", file=display,
                   line=_template_line(exc))
    except Exception as exc:  # a filter raising on bad input, e.g. int("x")
        sink.error(f"template error: {type(exc).__name__}: {exc}", file=display, line=_template_line(exc))
    return None


def _template_line(exc: BaseException) -> int:
    """The template line an exception was raised at, from Jinja's rewritten traceback."""
    line = 0
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line or 1
