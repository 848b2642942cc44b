"""A list's address: sort column, order, filters, search and page, read from the URL and written back into links.

Every list (authorizations, jobs, an authorization's jobs) is a plain GET of its own URL
with a query string (``?sort=created&order=desc&health=unhealthy&q=ads&page=3``), so it
works without JavaScript, can be bookmarked, and the browser's back button does what a
person expects. Pages and the JSON API read the same parameters the same way: a value
that names no column, filter or page is a UsageError (HTTP 400) naming the parameter and
what it takes, never silently ignored. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, TypeVar
from urllib.parse import urlencode

from reconciler.errors import UsageError

PER_PAGE = 50
MAX_PER_PAGE = 500
MAX_SEARCH = 200  # characters of a search: a label is never longer than this in practice
ORDERS = ("asc", "desc")
T = TypeVar("T")


@dataclass(frozen=True)
class ListQuery:
    """One list's state as its URL says it. ``filters`` hold only the filters that are set."""

    sort: str
    order: str = "asc"
    filters: dict[str, str] = field(default_factory=dict)
    search: str = ""
    page: int = 1
    per_page: int = PER_PAGE
    default_sort: str = ""
    prefix: str = ""  # a second list on one page names its parameters ``jsort``, ``jpage``...

    @property
    def descending(self) -> bool:
        return self.order == "desc"

    def params(self, **changes: object) -> dict[str, str]:
        """The query parameters of this list with ``changes`` (None drops one); defaults are left out."""
        values: dict[str, object] = {"sort": self.sort, "order": self.order, **self.filters, "q": self.search,
                                     "page": self.page, "per_page": self.per_page}
        values.update(changes)
        defaults = {"sort": self.default_sort, "order": "asc", "q": "", "page": 1, "per_page": PER_PAGE}
        return {f"{self.prefix}{key}": str(value) for key, value in values.items()
                if value is not None and value != "" and defaults.get(key) != value}

    def href(self, path: str, **changes: object) -> str:
        """``path`` with this list's query string, changed by ``changes`` (a link on the page)."""
        query = urlencode(self.params(**changes))
        return f"{path}?{query}" if query else path

    def form_params(self) -> dict[str, str]:
        """What a filter form keeps as hidden fields: sort, order and page size (the page starts over)."""
        return self.params(page=None, q=None, **dict.fromkeys(self.filters))

    def sort_href(self, path: str, column: str) -> str:
        """The link a column header carries: that column ascending, or the other way when it is the current one."""
        order = ("desc" if self.order == "asc" else "asc") if column == self.sort else "asc"
        return self.href(path, sort=column, order=order, page=None)

    def with_page(self, page: int) -> ListQuery:
        return replace(self, page=page)


def _one(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    return value.strip() if value is not None else None


def _positive(params: Mapping[str, str], name: str, default: int, maximum: int | None = None) -> int:
    text = _one(params, name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{name}: expected a whole number from 1, got {text[:40]!r}")
    value = int(text)
    if maximum is not None and value > maximum:
        raise UsageError(f"{name}: at most {maximum}, got {value}")
    return value


def parse_list_query(params: Mapping[str, str], *, columns: Sequence[str], default_sort: str,
                     filters: Mapping[str, Sequence[str] | None] | None = None, prefix: str = "") -> ListQuery:
    """Read one list's parameters; ``filters`` maps each filter to the values it may take (None: any).

    A filter value that matches nothing (a provider no authorization has) is not an error:
    the list is empty and says so. A sort column, an order, a page or a value outside a
    closed set (health) is. ``prefix`` namespaces the parameters of a second list on one page (``jsort``, ``jpage``).
    """
    name = lambda key: f"{prefix}{key}"  # noqa: E731
    sort = _one(params, name("sort")) or default_sort
    if sort not in columns:
        raise UsageError(f"{name('sort')}: unknown column {sort[:40]!r} (columns: {', '.join(columns)})")
    order = _one(params, name("order")) or "asc"
    if order not in ORDERS:
        raise UsageError(f"{name('order')}: expected asc or desc, got {order[:40]!r}")
    chosen: dict[str, str] = {}
    for key, allowed in (filters or {}).items():
        value = _one(params, name(key))
        if not value:
            continue
        if allowed is not None and value not in allowed:
            raise UsageError(f"{name(key)}: expected one of {', '.join(allowed)}, got {value[:60]!r}")
        chosen[key] = value[:MAX_SEARCH]
    search = (_one(params, name("q")) or "")[:MAX_SEARCH]
    return ListQuery(sort=sort, order=order, filters=chosen, search=search,
                     page=_positive(params, name("page"), 1),
                     per_page=_positive(params, name("per_page"), PER_PAGE, MAX_PER_PAGE), default_sort=default_sort,
                     prefix=prefix)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: its items, and where it stands among all that matched."""

    items: list[T]
    total: int
    page: int
    pages: int
    per_page: int

    @property
    def first_number(self) -> int:
        """1-based number of the first item shown (0 when there is none)."""
        return (self.page - 1) * self.per_page + 1 if self.items else 0

    @property
    def last_number(self) -> int:
        return self.first_number + len(self.items) - 1 if self.items else 0

    def paging_json(self) -> dict[str, int]:
        return {"total": self.total, "page": self.page, "pages": self.pages, "per_page": self.per_page}


def page_of(positions: Sequence[int], rows: Sequence[T], query: ListQuery) -> Page[T]:
    """The page ``query`` asks for, of ``rows`` in the order of ``positions`` (read backwards for desc).

    A page past the end is an error naming the last page, so a stale bookmark says why it is empty.
    """
    total = len(positions)
    pages = max(1, -(-total // query.per_page))
    if query.page > pages:
        raise UsageError(f"page: {query.page} is past the last page ({pages})")
    start = (query.page - 1) * query.per_page
    if query.descending:
        stop = total - start
        chosen = positions[max(stop - query.per_page, 0):stop][::-1]
    else:
        chosen = positions[start:start + query.per_page]
    return Page([rows[i] for i in chosen], total, query.page, pages, query.per_page)


__all__ = ["MAX_PER_PAGE", "PER_PAGE", "ListQuery", "Page", "page_of", "parse_list_query"]
