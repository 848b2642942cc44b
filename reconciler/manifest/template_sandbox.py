"""The Jinja2 environment manifests are rendered with: sandboxed, and bounded.

:class:`BoundedSandbox` is Jinja's immutable sandbox (no Python internals, no mutation of
lists and dicts) that also enforces the budget of reconciler/manifest/template_bounds.py.
Every place where a template can spend work or build something big goes through it:

- ``call`` (functions, macros, methods, ``loop(...)`` of recursive loops), every filter
  (each wrapped), the operators ``* ** % +`` (``intercepted_binops``), ``~`` (the code
  generator below), slicing (``getitem``), ``str.format`` (``wrap_str_format``) and every
  ``{{ value }}`` printed (``finalize``) charge the budget and, where they can multiply
  text, check the predicted size *before* building it;
- each ``{% for %}`` iterates through a counting wrapper (added to the parsed template by
  ``_parse``), so loops that print nothing still pay per iteration;
- constant folding at compile time is off (``optimized=False``): folded expressions would
  be computed by the compiler, outside any budget;
- ``lipsum()`` is removed: its arguments ask for unbounded text and no manifest needs it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import LoopContext, Macro
from jinja2.utils import pass_environment

from reconciler.manifest import template_bounds as bounds

_LOOP_FILTER = "authctl_counted_loop"
_SEQUENCES = (str, bytes, list, tuple)


class _BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``a ~ b`` built by the environment (which checks its size)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.concat_checked((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class BoundedSandbox(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The immutable sandbox within a :class:`~reconciler.manifest.template_bounds.Budget`."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})
    code_generator_class = _BoundedCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(optimized=False, **options)
        self.budget = bounds.Budget()
        self.globals.pop("lipsum", None)
        self.filters = {name: _bounded_filter(name, function, self.budget) for name, function in self.filters.items()}
        self.filters[_LOOP_FILTER] = _counted_loop
        self.finalize = self._printed

    def start_budget(self) -> None:
        """A fresh budget, for the next file."""
        self.budget.start()

    # -- the hooks Jinja's compiled templates call --------------------------------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _LOOP_FILTER, [], [], None, None, lineno=loop.iter.lineno)
        return tree

    def call(__self, __context: jinja2.runtime.Context, __obj: Any, *args: Any,  # noqa: N805
             **kwargs: Any) -> Any:
        __self.budget.tick(bounds.MACRO_CALL_COST if isinstance(__obj, Macro) else 1)
        if isinstance(__obj, LoopContext) and args:  # loop(children) in a recursive loop
            args = (_Counted(args[0], __self.budget),) + args[1:]
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, (str, bytes)):
            args = _check_text_method(getattr(__obj, "__name__", ""), owner, args, kwargs, __self.budget)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, _SEQUENCES):
            __self.budget.built_value(len(result))
        return result

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any, right: Any) -> Any:
        self.budget.tick()
        if operator == "*":
            bounds.size_repeat(left, right)
        elif operator == "**":
            bounds.size_power(left, right)
        elif operator == "+":
            bounds.size_add(left, right)
        elif operator == "%" and isinstance(left, str):
            bounds.size_percent_format(left, right, self.budget)
        result = super().call_binop(context, operator, left, right)
        if isinstance(result, _SEQUENCES):
            self.budget.built_value(len(result))
        return result

    def getitem(self, obj: Any, argument: Any) -> Any:
        result = super().getitem(obj, argument)
        if isinstance(argument, slice) and isinstance(result, _SEQUENCES):
            self.budget.tick()
            self.budget.built_value(len(result))
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        template: str = value.__self__
        budget = self.budget

        def checked(*args: Any, **kwargs: Any) -> str:
            budget.tick()
            if value.__name__ == "format_map":
                bounds.size_brace_format(template, (), args[0] if args else {}, budget)
            else:
                bounds.size_brace_format(template, args, kwargs, budget)
            result = wrapped(*args, **kwargs)
            budget.built_value(len(result))
            return result

        return functools.update_wrapper(checked, value)

    def concat_checked(self, parts: tuple[Any, ...]) -> str:
        """``a ~ b ~ ...``: each part's text measured before any is built."""
        self.budget.tick()
        total = 0
        for part in parts:
            total += len(part) if isinstance(part, str) else bounds.text_size(part, self.budget)
            if total > bounds.MAX_VALUE_CHARS:
                raise bounds.too_large("a joined value (~)")
        result = "".join(map(str, parts))
        self.budget.built_value(len(result))
        return result

    def _printed(self, value: Any) -> Any:
        """``{{ value }}``: a value whose text would be too large is refused before it is printed."""
        if type(value) is not str:
            bounds.text_size(value, self.budget)
        return value


class _Counted:
    """An iterable that charges one operation per item."""

    def __init__(self, iterable: Iterable[Any], budget: bounds.Budget) -> None:
        self.iterable = iterable
        self.budget = budget

    def __iter__(self) -> Iterator[Any]:
        tick = self.budget.tick
        for item in self.iterable:
            tick()
            yield item


@pass_environment
def _counted_loop(environment: BoundedSandbox, iterable: Any) -> Any:
    """What every ``{% for %}`` iterates (added by ``BoundedSandbox._parse``)."""
    if isinstance(iterable, jinja2.Undefined):
        return iterable  # iterating it raises the usual "is undefined" error
    return _Counted(iterable, environment.budget)


# -- filters and text methods that can multiply text --------------------------------------------

def _check_text_method(name: str, owner: str | bytes, args: tuple[Any, ...], kwargs: dict[str, Any],
                       budget: bounds.Budget) -> tuple[Any, ...]:
    """Check ``owner.name(*args)`` before it runs; returns the arguments to use (join's are listed)."""
    if name in ("center", "ljust", "rjust", "zfill"):
        bounds.size_padding(owner, args[0] if args else kwargs.get("width"))
    elif name == "expandtabs":
        bounds.size_expandtabs(owner, args[0] if args else kwargs.get("tabsize", 8))
    elif name == "replace" and len(args) >= 2:
        bounds.size_replace(owner, args[0], args[1], args[2] if len(args) > 2 else kwargs.get("count", -1))
    elif name == "join" and args:
        items = list(_Counted(args[0], budget))
        bounds.size_join(owner, items, budget)
        return (items,) + args[1:]
    return args


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], index: int, name: str, default: Any = None) -> Any:
    """Argument ``index`` (after the value) of a filter call, given by position or name."""
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                  budget: bounds.Budget) -> tuple[Any, ...] | None:
    """Check a filter call before it runs; returns a replacement value argument for ``join``."""
    if name == "center":
        bounds.size_padding(value, _argument(args, kwargs, 0, "width", 80))
    elif name == "indent":
        bounds.size_indent(value, _argument(args, kwargs, 0, "width", 4))
    elif name == "wordwrap":
        bounds.size_wordwrap(value, _argument(args, kwargs, 2, "wrapstring") or "\n")
    elif name == "replace":
        bounds.size_replace(value, _argument(args, kwargs, 0, "old"), _argument(args, kwargs, 1, "new"),
                            _argument(args, kwargs, 2, "count", -1))
    elif name == "format" and isinstance(value, str):
        bounds.size_percent_format(value, kwargs or args, budget)
    elif name == "join":
        items = list(_Counted(value, budget)) if not isinstance(value, jinja2.Undefined) else []
        bounds.size_join(_argument(args, kwargs, 0, "d", ""), items, budget)
        return (items,)
    elif name == "slice":
        bounds.size_item_count(_argument(args, kwargs, 0, "slices"), "slice")
    elif name == "batch" and _argument(args, kwargs, 1, "fill_with") is not None:
        bounds.size_item_count(_argument(args, kwargs, 0, "linecount"), "batch")
    elif name == "sum" and not isinstance(_argument(args, kwargs, 1, "start", 0), (int, float)):
        raise bounds.TemplateBudgetExceeded("sum: start must be a number in manifests")
    elif name in ("string", "tojson", "pprint", "e", "escape", "forceescape", "urlencode", "list"):
        if name == "tojson":
            indent = _argument(args, kwargs, 0, "indent")
            if isinstance(indent, int) and indent > 16:
                raise bounds.TemplateBudgetExceeded("tojson: indent at most 16 in manifests")
        if name != "list" or isinstance(value, str):
            bounds.text_size(value, budget)
    return None


def _bounded_filter(name: str, function: Callable[..., Any], budget: bounds.Budget) -> Callable[..., Any]:
    """``function`` (the filter ``name``) charging ``budget`` and checking sizes first.

    ``functools.wraps`` keeps Jinja's ``jinja_pass_arg`` mark, so the wrapper receives the
    context/environment argument exactly as the filter would.
    """
    passes_first = getattr(function, "jinja_pass_arg", None) is not None

    @functools.wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        head, rest = (args[:1], args[1:]) if passes_first else ((), args)
        if not rest:
            return function(*args, **kwargs)
        budget.tick()
        replaced = _check_filter(name, rest[0], rest[1:], kwargs, budget)
        if replaced is not None:
            rest = replaced + rest[1:]
        result = function(*head, *rest, **kwargs)
        if isinstance(result, _SEQUENCES):
            budget.built_value(len(result))
        return result

    return bounded
