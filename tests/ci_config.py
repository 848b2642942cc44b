"""How GitHub Actions and GitLab CI read the CI files of examples/ci/: expressions, jobs per event, extends, rules.

Importable as ``ci_config`` (pytest puts ``tests/`` on ``sys.path``); used by tests/ci_support.py
and tests/e2e/test_ci_examples.py.

- ``evaluate``/``interpolate``: the expression languages of both systems, as far as the files
  use them: GitHub's ``${{ }}`` (contexts, ``== != && || !``, ``success()``, ``!cancelled()``,
  ``contains()``; strings compare ignoring case, a missing property is null) and GitLab's
  ``rules: if:`` (``$VAR``, quoted strings, ``== != && ||``). Anything else is a ValueError,
  so a construct the files start using fails loudly instead of being misread.
- ``github_jobs_for``: the jobs a workflow run starts for an event (their ``if:``).
- ``gitlab_job``/``gitlab_pipeline``: a job with its ``extends`` merged as GitLab merges them,
  and the jobs (with their ``when``) a pipeline gets from ``workflow: rules`` and each job's ``rules``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# -- expressions -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<number>\d+(?:\.\d+)?)
  | '(?P<single>(?:[^']|'')*)'
  | "(?P<double>[^"]*)"
  | (?P<op>==|!=|&&|\|\||[!(),])
  | \$(?P<variable>[A-Za-z_]\w*)
  | (?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)
)""", re.X)


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


class _Expression:
    """One expression, parsed and evaluated at once (recursive descent; no side effects, so both sides are read)."""

    def __init__(self, text: str, lookup: Callable[[str], Any], functions: Mapping[str, Callable[..., Any]],
                 ignore_case: bool) -> None:
        self.lookup, self.functions, self.ignore_case = lookup, functions, ignore_case
        self.tokens: list[tuple[str, str]] = []
        text, position = text.strip(), 0
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None or match.lastgroup is None:
                raise ValueError(f"cannot read {text[position:]!r} in {text!r}")
            self.tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        self.at = 0

    def value(self) -> Any:
        result = self._or()
        if self.at != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.at][1]!r}")
        return result

    def _take(self, value: str) -> bool:
        if self.at < len(self.tokens) and self.tokens[self.at] == ("op", value):
            self.at += 1
            return True
        return False

    def _or(self) -> Any:
        left = self._and()
        while self._take("||"):
            right = self._and()
            left = left if truthy(left) else right
        return left

    def _and(self) -> Any:
        left = self._compare()
        while self._take("&&"):
            right = self._compare()
            left = right if truthy(left) else left
        return left

    def _compare(self) -> Any:
        left = self._unary()
        for op in ("==", "!="):
            if self._take(op):
                right = self._unary()
                if self.ignore_case and isinstance(left, str) and isinstance(right, str):
                    left, right = left.casefold(), right.casefold()
                return (left == right) == (op == "==")
        return left

    def _unary(self) -> Any:
        return not truthy(self._unary()) if self._take("!") else self._primary()

    def _primary(self) -> Any:
        if self._take("("):
            result = self._or()
            if not self._take(")"):
                raise ValueError("missing )")
            return result
        if self.at >= len(self.tokens):
            raise ValueError("the expression ends too early")
        kind, text = self.tokens[self.at]
        self.at += 1
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind in ("single", "double"):
            return text.replace("''", "'") if kind == "single" else text
        if kind == "variable":
            return self.lookup("$" + text)
        if kind == "name" and self._take("("):
            args: list[Any] = []
            while not self._take(")"):
                args.append(self._or())
                self._take(",")
            if text not in self.functions:
                raise ValueError(f"unknown function {text}()")
            return self.functions[text](*args)
        if kind == "name":
            literals = {"true": True, "false": False, "null": None}
            return literals[text] if text in literals else self.lookup(text)
        raise ValueError(f"unexpected {text!r}")


def evaluate(text: str, lookup: Callable[[str], Any], functions: Mapping[str, Callable[..., Any]] | None = None,
             *, ignore_case: bool = True) -> Any:
    """The value of ``text`` (a ``${{ }}`` wrapper is optional, as in GitHub's ``if:``)."""
    inner = text.strip()
    if inner.startswith("${{") and inner.endswith("}}"):
        inner = inner[3:-2]
    return _Expression(inner, lookup, functions or {}, ignore_case).value()


def as_text(value: Any) -> str:
    """How GitHub writes a value into a string: null is empty, booleans are lower case."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def interpolate(text: str, lookup: Callable[[str], Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}", lambda m: as_text(evaluate(m.group(1), lookup)), str(text), flags=re.S)


def context_lookup(contexts: Mapping[str, Any]) -> Callable[[str], Any]:
    """``github.event.pull_request.number`` -> the value in ``contexts`` (a missing property is null)."""
    def lookup(path: str) -> Any:
        value: Any = contexts
        for part in path.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        return value
    return lookup


def github_functions(status: Callable[[], str]) -> dict[str, Callable[..., Any]]:
    return {"success": lambda: status() == "success", "failure": lambda: status() == "failure",
            "cancelled": lambda: False, "always": lambda: True,
            "contains": lambda haystack, needle: (needle in haystack) if isinstance(haystack, list)
            else str(needle).casefold() in str(haystack).casefold(),
            "startsWith": lambda text, prefix: str(text).casefold().startswith(str(prefix).casefold())}


def workflow_triggers(workflow: Mapping[Any, Any]) -> Mapping[str, Any]:
    """The ``on:`` mapping (YAML 1.1 reads the key ``on`` as the boolean true)."""
    triggers = workflow.get("on", workflow.get(True))
    return {triggers: None} if isinstance(triggers, str) else triggers


def github_jobs_for(workflow: Mapping[str, Any], github: Mapping[str, Any]) -> set[str]:
    """The jobs a run for this ``github`` context starts (their ``if:`` is true)."""
    lookup = context_lookup({"github": github})
    functions = github_functions(lambda: "success")
    return {name for name, job in workflow["jobs"].items() if truthy(evaluate(str(job.get("if", "true")), lookup,
                                                                                functions))}


# -- GitLab's configuration --------------------------------------------------------------------

def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, Mapping) and isinstance(merged.get(key),
                                                                                               Mapping) else value
    return merged


def gitlab_job(config: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The job with its ``extends`` chain merged in (hashes deep-merged, arrays replaced), as GitLab does."""
    job = config[name]
    parents = job.get("extends", [])
    resolved: dict[str, Any] = {}
    for parent in [parents] if isinstance(parents, str) else parents:
        resolved = _merge(resolved, gitlab_job(config, parent))
    return {k: v for k, v in _merge(resolved, job).items() if k != "extends"}


GITLAB_KEYWORDS = {"stages", "variables", "workflow", "default", "include", "image", "services", "before_script",
                   "after_script", "cache"}


def gitlab_job_names(config: Mapping[str, Any]) -> list[str]:
    return [k for k in config if k not in GITLAB_KEYWORDS and not k.startswith(".")]


def gitlab_rule(rules: list[Mapping[str, Any]], variables: Mapping[str, str]) -> Mapping[str, Any] | None:
    """The first rule whose ``if:`` holds (None: the job or pipeline is not created)."""
    for rule in rules:
        if "if" not in rule or truthy(evaluate(rule["if"], lambda name: variables.get(name[1:]),
                                               ignore_case=False)):
            return rule
    return None


def gitlab_pipeline(config: Mapping[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """Job name -> ``when`` (on_success, manual) for the pipeline these variables create ({} if none)."""
    if gitlab_rule(config.get("workflow", {}).get("rules", []), variables) is None:
        return {}
    jobs: dict[str, str] = {}
    for name in gitlab_job_names(config):
        rules = gitlab_job(config, name).get("rules")
        rule = gitlab_rule(rules, variables) if rules is not None else {}
        if rule is not None and rule.get("when") != "never":
            jobs[name] = str(rule.get("when", "on_success"))
    return jobs
