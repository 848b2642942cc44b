"""Jinja2 rendering of manifest files: sandboxed, StrictUndefined, errors with lines.

Most manifests use Jinja2 only for ``{{ variable }}`` substitutions. Compiling a large
file as one template costs far more than evaluating its few distinct expressions (Jinja
turns every line of plain text into generated Python), so files without block tags,
comments or whitespace control are rendered by evaluating each distinct ``{{ ... }}``
once with the same sandboxed environment and splicing the results in. That gives the
same text Jinja would; anything the fast path cannot read falls back to full Jinja.

Both paths run in :class:`~reconciler.manifest.template_sandbox.BoundedSandbox` with a
fresh budget per file (operations, seconds, memory, value and output sizes:
reconciler/manifest/template_bounds.py); exceeding it is a template error with the file
and, where known, the line.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

import jinja2
import jinja2.sandbox

from reconciler.errors import DiagnosticSink
from reconciler.manifest.template_bounds import MAX_OUTPUT_CHARS, TemplateBudgetExceeded
from reconciler.manifest.template_sandbox import BoundedSandbox

JINJA_MARKERS = ("{{", "{%", "{#")
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_UNDEFINED_HINT = " (define it under vars or environments.<env>.vars in authctl.yaml)"
_RULE = "template-error"  # the rule id of every diagnostic here


class _NotSimple(Exception):
    """The file needs the full template engine."""


def jinja_environment() -> jinja2.Environment:
    # Sandboxed: manifests come from pull requests, and `plan` runs on them in CI; a template
    # must not reach Python internals (``cycler.__init__.__globals__.os`` and the like), nor
    # run for minutes or exhaust memory (the budget of BoundedSandbox).
    return BoundedSandbox(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        loader=jinja2.FunctionLoader(lambda name: None),
    )


def render(environment: jinja2.Environment, text: str, display: str,
           variables: dict[str, Any], sink: DiagnosticSink) -> str | None:
    """Render with StrictUndefined; files without Jinja syntax are returned as they are."""
    if not any(marker in text for marker in JINJA_MARKERS):
        return text
    if isinstance(environment, BoundedSandbox):
        environment.start_budget()
    if "{%" not in text and "{#" not in text:
        try:
            return _render_expressions(environment, text, display, variables, sink)
        except _NotSimple:
            pass
    return _render_template(environment, text, display, variables, sink)


def _render_expressions(environment: jinja2.Environment, text: str, display: str,
                        variables: dict[str, Any], sink: DiagnosticSink) -> str | None:
    """Substitute each ``{{ expr }}``; raises _NotSimple when full Jinja is needed."""
    compiled: dict[str, Callable[..., Any]] = {}
    parts: list[str] = []
    position = 0
    size = 0
    for match in _EXPRESSION.finditer(text):
        source = match.group(1)
        if source[:1] in "-+" or source[-1:] in "-+" or "{{" in source or "{%" in source:
            raise _NotSimple  # whitespace control or nesting: let Jinja decide
        function = compiled.get(source)
        if function is None:
            try:
                function = environment.compile_expression(source, undefined_to_none=False)
            except (jinja2.TemplateSyntaxError, RecursionError):
                raise _NotSimple from None  # e.g. "}}" inside a string literal; full Jinja reports it
            compiled[source] = function
        parts.append(text[position:match.start()])
        try:
            value = function(**variables)
            if environment.finalize is not None:
                value = environment.finalize(value)
            piece = str(value)
            size += len(piece) + match.start() - position
            if size > MAX_OUTPUT_CHARS:
                raise _output_too_large()
            parts.append(piece)
        except jinja2.UndefinedError as exc:
            sink.error(f"template error: {exc.message}{_UNDEFINED_HINT}", file=display, rule=_RULE,
                       line=text.count("\n", 0, match.start()) + 1)
            return None
        except TemplateBudgetExceeded as exc:
            sink.error(f"template error: {exc.message}", file=display, rule=_RULE,
                       line=text.count("\n", 0, match.start()) + 1)
            return None
        except Exception:  # noqa: BLE001 - a filter failing: full Jinja reports it with its line
            raise _NotSimple from None
        position = match.end()
    if "{{" in text[position:]:
        raise _NotSimple  # an unclosed expression: Jinja reports the syntax error
    parts.append(text[position:])
    return "".join(parts)


def _render_template(environment: jinja2.Environment, text: str, display: str,
                     variables: dict[str, Any], sink: DiagnosticSink) -> str | None:
    try:
        template = environment.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        sink.error(f"template error: {exc.message}", file=display, rule=_RULE, line=exc.lineno or 1)
        return None
    except RecursionError:
        sink.error("template error: expression nested too deeply", file=display, rule=_RULE, line=1)
        return None
    if isinstance(environment, BoundedSandbox):
        environment.start_budget()  # afresh: the fast path may have spent some before handing over
    try:
        return _bounded_output(template, variables)
    except jinja2.TemplateNotFound as exc:
        sink.error(f'template error: cannot load template "{exc.name}": manifests cannot include, '
                   "import or extend other templates", file=display, rule=_RULE, line=_template_line(exc))
    except jinja2.sandbox.SecurityError as exc:
        sink.error(f"template error: not allowed in manifests: {exc}", file=display, rule=_RULE,
                   line=_template_line(exc))
    except jinja2.UndefinedError as exc:
        sink.error(f"template error: {exc.message}{_UNDEFINED_HINT}", file=display, rule=_RULE,
                   line=_template_line(exc))
    except jinja2.TemplateError as exc:
        sink.error(f"template error: {exc.message or type(exc).__name__}", file=display, rule=_RULE,
                   line=_template_line(exc))
    except Exception as exc:  # a filter raising on bad input, e.g. int("x")
        sink.error(f"template error: {type(exc).__name__}: {exc}", file=display, rule=_RULE,
                   line=_template_line(exc))
    return None


def _bounded_output(template: jinja2.Template, variables: dict[str, Any]) -> str:
    """``template.render``, stopped once the text passes MAX_OUTPUT_CHARS (loops of plain text too)."""
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(**variables):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise _output_too_large()
        chunks.append(chunk)
    return "".join(chunks)


def _output_too_large() -> TemplateBudgetExceeded:
    return TemplateBudgetExceeded(f"the rendered file would be larger than {MAX_OUTPUT_CHARS // 1048576} MiB; "
                                  "manifests may not render that much")


def _template_line(exc: BaseException) -> int:
    """The template line an exception was raised at, from Jinja's rewritten traceback."""
    line = 0
    tb = exc.__traceback__ or sys.exc_info()[2]
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line or 1
