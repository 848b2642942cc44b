"""The exception tree drawn in ``reconciler/errors.py`` matches the classes; diagnostics format."""

from __future__ import annotations

import inspect
import re
import textwrap

import reconciler.errors as errors
from reconciler.errors import AuthctlError, Diagnostic, DiagnosticSink, ManifestError, Severity

def _drawn_tree() -> dict[str, str | None]:
    """class name -> parent name, read from the drawing in the module docstring."""
    doc = errors.__doc__ or ""
    lines = textwrap.dedent(doc.split("::", 1)[1].split('"""')[0]).strip("\n").splitlines()
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for row in lines:
        if not row.strip():
            continue
        match = re.match(r"^(?P<prefix>(?:[│ ]   )*)(?:[├└]── )?(?P<name>[A-Z]\w+)\b", row)
        assert match, f"cannot read the tree row {row!r}"
        depth = len(match.group("prefix")) // 4 + (1 if re.search(r"[├└]── ", row) else 0)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match.group("name")] = stack[-1][1] if stack else None
        stack.append((depth, match.group("name")))
    return parents


def test_docstring_tree_matches_the_classes() -> None:
    drawn = _drawn_tree()
    actual = {
        name: (cls.__bases__[0].__name__ if cls is not AuthctlError else None)
        for name, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, AuthctlError) and cls.__module__ == errors.__name__
    }
    assert drawn == actual


def test_every_error_class_has_a_one_line_docstring() -> None:
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, AuthctlError):
            assert cls.__doc__ and "\n" not in cls.__doc__.strip(), cls.__name__


def test_diagnostic_format() -> None:
    full = Diagnostic("a.yaml", 3, "Authorization/x", "spec.method", 'unknown method "y"')
    assert full.format() == 'a.yaml:3: Authorization/x: spec.method: unknown method "y"'
    assert Diagnostic("a.yaml", 0, "", "", "cannot read").format() == "a.yaml: cannot read"
    assert Diagnostic(message="plain").format() == "plain"
    warning = Diagnostic("a.yaml", 1, "Job/j", "spec.config.x", "unused", Severity.WARNING)
    assert warning.format() == "warning: a.yaml:1: Job/j: spec.config.x: unused"


def test_manifest_error_sorts_and_counts_errors_only() -> None:
    sink = DiagnosticSink()
    sink.error("second", file="b.yaml", line=2)
    sink.warning("a warning", file="a.yaml", line=9)
    sink.error("first", file="a.yaml", line=10)
    assert sink.has_errors
    try:
        sink.raise_if_errors()
    except ManifestError as exc:
        assert [d.message for d in exc.diagnostics] == ["a warning", "first", "second"]
        assert str(exc) == "2 errors in the manifests"
        assert exc.exit_code == 1
    else:  # pragma: no cover
        raise AssertionError("raise_if_errors did not raise")
    assert ManifestError([Diagnostic("a", 1, message="x")]).message == "1 error in the manifests"


def test_sink_with_only_warnings_does_not_raise() -> None:
    sink = DiagnosticSink()
    sink.warning("w")
    assert not sink.has_errors
    sink.raise_if_errors()


def test_error_message_and_hint() -> None:
    exc = errors.WorkspaceError("no workspace", hint="pass -w")
    assert str(exc) == "no workspace" and exc.hint == "pass -w"
    held = errors.LockHeldError("locked", lock_id="L1", holder="me")
    assert "authctl force-unlock L1" in held.hint
    temporary = errors.TemporaryBackendError("slow down", status=429, delay=2.5)
    assert isinstance(temporary, errors.BackendError) and temporary.delay == 2.5
