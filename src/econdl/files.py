"""Writing a file so that a reader, or a process killed mid-write, never sees it torn."""

from __future__ import annotations

import os
import re
from pathlib import Path


def temp_path(path: str | Path) -> Path:
    """The temporary file beside ``path`` that this process writes before renaming it over
    ``path`` (one per process: sweep workers may write the same file at once)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_leftovers(folder: str | Path) -> None:
    """Delete the temporary files that processes killed mid-write left in ``folder``; call it
    only where no other process is writing there (a resumed run's own directory)."""
    for leftover in Path(folder).glob(".*.tmp"):
        if re.fullmatch(r"\..+\.\d+\.tmp", leftover.name):
            leftover.unlink(missing_ok=True)


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path`` (one
    atomic step on POSIX file systems): the file holds either its old or its new content,
    whatever kills the process, and processes finishing together never interleave."""
    path, tmp = Path(path), temp_path(path)
    try:
        if isinstance(text, bytes):
            tmp.write_bytes(text)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


class FolderLock:
    """An exclusive lock on a folder, held from :meth:`take` until :meth:`release` (or until
    the object is collected, or the process ends).  The lock is the operating system's
    (``flock`` on the folder itself: no lock file is written), so a process that dies, however
    it dies, holds nothing.  Where ``flock`` is not available (not POSIX) nothing is locked."""

    def __init__(self) -> None:
        self._fd: int | None = None
        self.folder: Path | None = None  # the folder held, if any

    def take(self, folder: str | Path, refusal: str) -> None:
        """Lock ``folder`` (nothing to do where it is held already), or raise
        ``ConfigError(refusal)`` at once where another process holds it."""
        try:
            import fcntl
        except ImportError:
            return
        from econdl.errors import ConfigError

        folder = Path(folder).resolve()
        if self.folder == folder:
            return
        self.release()
        fd = os.open(folder, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ConfigError(refusal) from None
        self._fd, self.folder = fd, folder

    def release(self) -> None:
        fd, self._fd, self.folder = self._fd, None, None
        if fd is not None:
            os.close(fd)  # releases the lock

    def __del__(self) -> None:
        self.release()
