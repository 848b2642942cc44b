"""Bounded reads of files named by users: never block, never read past a cap.

Manifests, ``authctl.yaml`` and secret files come from pull requests. A name that looks
like a file can be a FIFO (opening it for reading blocks until someone writes), a device
(``x.yaml -> /dev/zero`` never ends), a socket, or a regular file that is simply huge,
and ``stat().st_size`` cannot be trusted to say how much there is to read (procfs files
say 0). So every read here:

- opens without blocking (``O_NONBLOCK``) and checks what was opened with ``fstat``:
  anything but a regular file is refused before a single byte is read;
- reads at most ``max_bytes + 1`` bytes, whatever the size claims, so that "too large"
  is known without reading the rest.

Callers that can, look at the entry with ``stat`` first (discovery does) so that a device
is not even opened; the check after opening is what holds when the entry changed between
the two.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

_READ_CHUNK = 1 << 20
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FileRefused(Exception):
    """The file is not read: it is not a regular file, or it is larger than allowed.

    ``reason`` is a phrase for a user ("is a FIFO, not a regular file"); it never holds
    file content. ``size`` is the size in bytes when known (for "too large").
    """

    def __init__(self, reason: str, *, size: int | None = None, too_large: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.size = size
        self.too_large = too_large


def kind_of(mode: int) -> str:
    """What a file mode is, for messages: "a FIFO", "a character device", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "a special file"


def not_regular(mode: int) -> FileRefused:
    """The refusal for an entry of ``mode`` that is not a regular file."""
    return FileRefused(f"is {kind_of(mode)}, not a regular file")


def read_regular_file(path: Path | str, max_bytes: int, *, follow_symlinks: bool = True) -> bytes:
    """The bytes of the regular file at ``path``, at most ``max_bytes`` of them.

    Raises FileRefused for anything that is not a regular file (checked on the opened
    descriptor, so a FIFO never blocks and a device is never read) and for files larger
    than ``max_bytes`` (known after reading at most ``max_bytes + 1`` bytes); OSError
    when it cannot be opened or read. ``follow_symlinks=False`` refuses a symbolic link
    in the last component (the caller resolved the path itself and checked where it is).
    """
    flags = os.O_RDONLY | _NONBLOCK | _CLOEXEC | (0 if follow_symlinks else _NOFOLLOW)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(info.st_mode)
        if info.st_size > max_bytes:
            raise FileRefused("is too large", size=info.st_size, too_large=True)
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(_READ_CHUNK, remaining))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise FileRefused("is too large", size=None, too_large=True)
        return data
    finally:
        os.close(fd)


def describe_size(size: int | None, limit: int) -> str:
    """"is 5.2 MiB" / "is larger than 4 MiB" for a too-large message."""
    if size is not None and size > limit:
        return f"is {size / 1048576:.1f} MiB"
    return f"is larger than {_mib(limit)}"


def _mib(limit: int) -> str:
    if limit >= 1048576 and limit % 1048576 == 0:
        return f"{limit // 1048576} MiB"
    return f"{limit // 1024} KiB"


def limit_text(limit: int) -> str:
    """"4 MiB" or "256 KiB": how messages name a limit."""
    return _mib(limit)
