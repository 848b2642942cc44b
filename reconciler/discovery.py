"""Which files of a workspace are manifests, and what could not be looked at.

Apply deletes whatever the manifests no longer declare, so a folder that discovery skips
without saying so is a folder whose objects get deleted. Discovery therefore never skips
silently; the rules:

- Every ``*.yaml``/``*.yml`` regular file below the root is a manifest, except entries
  whose name starts with a dot, the folders ``.venv``, ``venv``, ``__pycache__`` and
  ``node_modules``, the folders the caller excludes (the workspace's own provider
  folders) and the settings file at the root.
- Symbolic links are followed, to files and to folders alike, wherever they point.
- Anything that cannot be looked at is a :class:`Problem` (an error for the caller): a
  folder that cannot be listed, an entry whose type cannot be known (a broken link, a
  link loop, no permission), whatever its name, since it may be a folder of manifests.
- A FIFO, device or socket named like a manifest is a Problem and is never opened (a FIFO
  would block the reader, ``/dev/zero`` would never end). Other special files are not
  manifests and are ignored.
- Each folder is listed once and each file is loaded once, even when links reach it by
  several paths (a loop, two links to one folder, a link to a file beside the file): the
  path kept is the one with the fewest symbolic links, then the first in sorted order, so
  real paths win over linked ones and the choice does not depend on listing order. A link
  loop therefore ends by itself, without an error: everything in it was reached already.
- At most ``max_entries`` entries are looked at (a link to ``/`` must not make validate walk
  the whole disk); past that, a Problem.

The walk pops folders in (number of links, path) order from a heap: a folder is popped
first by its smallest such path, so the first visit of a folder (or file) is its kept one.
"""

from __future__ import annotations

import errno
import heapq
import os
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.file_reads import kind_of

MAX_ENTRIES = 200_000

_Key = tuple[int, tuple[str, ...]]  # (symbolic links followed, path parts below the root)
_Identity = tuple[int, int]  # (st_dev, st_ino)


@dataclass(frozen=True)
class Problem:
    """Something discovery could not look at: ``parts`` is its path below the root."""

    parts: tuple[str, ...]
    message: str
    rule: str

    @property
    def display(self) -> str:
        return "/".join(self.parts) or "."


@dataclass
class Discovery:
    """The manifest files found (sorted by path below the root) and every problem met."""

    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


UNREADABLE_FOLDER, UNREADABLE_ENTRY, SPECIAL_FILE, TOO_MANY_ENTRIES = (
    "unreadable-folder", "unreadable-entry", "special-file", "too-many-entries")


def discover(root: Path, *, suffixes: tuple[str, ...], skipped_names: Collection[str],
             excluded_dirs: Collection[Path] = (), excluded_files: Collection[str] = (),
             max_entries: int = MAX_ENTRIES) -> Discovery:
    """Walk ``root`` (see the module docstring); ``excluded_files`` are names at the root."""
    walk = _Walk(root, suffixes, frozenset(skipped_names), _identities(excluded_dirs),
                 frozenset(excluded_files), max_entries)
    return walk.run()


def _identities(paths: Collection[Path]) -> frozenset[_Identity]:
    found = set()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue  # a provider folder that does not exist excludes nothing
        found.add((info.st_dev, info.st_ino))
    return frozenset(found)


class _Walk:
    def __init__(self, root: Path, suffixes: tuple[str, ...], skipped: frozenset[str],
                 excluded: frozenset[_Identity], excluded_files: frozenset[str], max_entries: int) -> None:
        self.root = root
        self.suffixes = suffixes
        self.skipped = skipped
        self.excluded = excluded
        self.excluded_files = excluded_files
        self.max_entries = max_entries
        self.entries = 0
        self.visited: set[_Identity] = set()
        self.files: dict[_Identity, _Key] = {}
        self.problems: list[Problem] = []

    def run(self) -> Discovery:
        info = os.stat(self.root)
        heap: list[tuple[_Key, _Identity]] = [((0, ()), (info.st_dev, info.st_ino))]
        while heap:
            key, identity = heapq.heappop(heap)
            if identity in self.visited:
                continue  # reached before by a path with fewer links, or sorted first
            self.visited.add(identity)
            if not self._list(key, heap):
                break
        files = sorted(self.files.values(), key=lambda k: "/".join(k[1]))  # as before: by relative path text
        return Discovery([self.root.joinpath(*parts) for _, parts in files], self.problems)

    def _list(self, key: _Key, heap: list[tuple[_Key, _Identity]]) -> bool:
        """Look at the entries of the folder at ``key``; False once the entry budget is spent."""
        links, parts = key
        try:
            with os.scandir(self.root.joinpath(*parts)) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as exc:
            self.problems.append(Problem(parts, f"cannot read folder: {_reason(exc)}; nothing in it "
                                                "was loaded (fix the permissions or move it out of "
                                                "the workspace)", UNREADABLE_FOLDER))
            return True
        for entry in entries:
            name = entry.name
            if name.startswith(".") or (not parts and name in self.excluded_files):
                continue
            self.entries += 1
            if self.entries > self.max_entries:
                self.problems.append(Problem((), f"the workspace holds more than {self.max_entries:,} files "
                                                 "and folders (following symbolic links); stopped looking",
                                             TOO_MANY_ENTRIES))
                return False
            self._look_at(entry, (links + entry.is_symlink(), parts + (name,)), heap)
        return True

    def _look_at(self, entry: os.DirEntry[str], key: _Key, heap: list[tuple[_Key, _Identity]]) -> None:
        try:
            info = entry.stat(follow_symlinks=True)
        except OSError as exc:
            what = "symbolic link" if entry.is_symlink() else "entry"
            self.problems.append(Problem(key[1], f"cannot read {what}: {_reason(exc)}; it may hold "
                                                 "manifests (fix or remove it)", UNREADABLE_ENTRY))
            return
        identity = (info.st_dev, info.st_ino)
        if stat.S_ISDIR(info.st_mode):
            if entry.name not in self.skipped and identity not in self.excluded and identity not in self.visited:
                heapq.heappush(heap, (key, identity))
            return
        if not entry.name.endswith(self.suffixes):
            return
        if not stat.S_ISREG(info.st_mode):
            self.problems.append(Problem(key[1], f"is {kind_of(info.st_mode)}, not a regular file; "
                                                 "manifests must be regular files", SPECIAL_FILE))
            return
        kept = self.files.get(identity)
        if kept is None or key < kept:
            self.files[identity] = key


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT:
        return "its target does not exist"
    return exc.strerror.lower() if exc.strerror else type(exc).__name__
