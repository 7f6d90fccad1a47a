"""A report file -> written whole or not at all. Every format and ``docs`` write through here.

The report is written to a temporary file of a unique name in the target's folder, flushed to
disk (``fsync``) and renamed over the target only once it is complete, so that:

- a run stopped part-way (Ctrl-C, ``kill``, an error, a full disk) keeps the previous report
  whole and leaves no temporary file behind (SIGTERM and SIGHUP are turned into
  :class:`Interrupted` while writing, so that the clean-up runs);
- several runs writing the same ``--output`` at once each write their own temporary file; the
  last to finish wins, and the file is always one whole report, never a mix;
- a target that is read-only (no write permission bits) is refused, never replaced, even when
  running as root;
- a target that is not a regular file (``/dev/null``, ``/dev/stdout``, a pipe) is written to
  directly: there is nothing to rename over.

Errors are :class:`OSError` (the caller words them: MR407) or :class:`Interrupted`.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import secrets
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import IO, Any, BinaryIO, Literal, TextIO, overload

__all__ = ["Interrupted", "ReadOnlyTarget", "check_target", "collect_quietly", "quiet_failure", "replace_file",
           "replacing", "scratch_beside", "temporary_beside", "unraisable_quiet"]


class Interrupted(BaseException):
    """A signal (SIGTERM, SIGHUP) arrived while a report was being written; the CLI exits 128+signal.

    A BaseException, as KeyboardInterrupt is: it is not an error of the code that was running.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.signum = signum


class ReadOnlyTarget(PermissionError):
    """The target exists and has no write permission: it is not replaced."""

    def __init__(self, path: Path) -> None:
        super().__init__(errno.EACCES, "the file is read-only (it is kept as it is)", str(path))


def _target(path: Path) -> tuple[Path, bool]:
    """The file to replace (a symbolic link's target) and whether it can be replaced by renaming."""
    real = Path(os.path.realpath(path))
    try:
        mode = real.stat().st_mode
    except FileNotFoundError:
        return real, True
    if not stat.S_ISREG(mode):
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "it is a folder, not a file", str(path))
        return real, False  # /dev/null, a pipe: written to in place
    if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise ReadOnlyTarget(path)
    return real, True


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Interrupted` in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Interrupted(signum)

    previous = {}
    for signum in (signal.SIGTERM, signal.SIGHUP):
        previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def quiet_failure(error: OSError) -> OSError:
    """An error to raise in place of ``error``, after collecting what the failed write left open.

    A writer that failed part-way (openpyxl on a full disk) leaves zip files whose closing would
    fail again, each printing "Exception ignored in ..." when collected; they are collected here,
    silently, once the original error (and its traceback, which holds them) is let go. The
    failure is reported once, by the caller.
    """
    failure = OSError(error.errno, error.strerror or str(error), error.filename)
    error.__traceback__ = None
    return failure


def collect_quietly() -> None:
    """Collect garbage without "Exception ignored" messages (see :func:`quiet_failure`)."""
    with unraisable_quiet():
        gc.collect()


@contextlib.contextmanager
def unraisable_quiet() -> Iterator[None]:
    """No "Exception ignored in ..." messages while the block runs (see :func:`quiet_failure`)."""
    hook = sys.unraisablehook
    sys.unraisablehook = lambda _: None
    try:
        yield
    finally:
        sys.unraisablehook = hook


def check_target(path: Path) -> None:
    """Raise the :class:`OSError` that writing ``path`` would meet at once: a read-only file, a
    folder, a folder that does not exist. Called before a long run, so that it is said first."""
    target, _ = _target(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "its folder does not exist", str(path))


def _fresh(folder: Path, name: str) -> tuple[Path, int]:
    """A new file of a unique name in ``folder`` (mode 0666 less the umask, as ``open`` makes)."""
    for _ in range(100):
        candidate = folder / f".{name}.{secrets.token_hex(6)}.partial"
        try:
            return candidate, os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                                      0o666)
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no unused temporary name", str(folder))


_STOPPING = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextlib.contextmanager
def _created(folder: Path, name: str) -> Iterator[tuple[Path, int]]:
    """A fresh temporary file (path, open descriptor), removed when the block does not end by
    renaming it. Signals are held while it is made, so that none lands between its creation and
    the clean-up taking charge of it; the descriptor is the block's to close."""
    blocked = threading.current_thread() is threading.main_thread() and hasattr(signal, "pthread_sigmask")
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING) if blocked else set()
    temporary: Path | None = None
    try:
        temporary, handle = _fresh(folder, name)
        if blocked:
            blocked = False
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending signal raises here, in the try
        yield temporary, handle
    finally:
        if blocked:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        if temporary is not None:
            with contextlib.suppress(OSError):
                temporary.unlink()  # gone already when it was renamed over the target


def _settle(temporary: Path, target: Path) -> None:
    """Give the temporary file the target's permissions, flush its folder entry, rename it over."""
    with contextlib.suppress(FileNotFoundError):
        temporary.chmod(stat.S_IMODE(target.stat().st_mode))
    temporary.replace(target)
    with contextlib.suppress(OSError):  # not every system can open a folder to fsync it
        folder = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


@contextlib.contextmanager
def temporary_beside(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for a writer that takes a path (openpyxl); renamed
    over ``path`` when the block ends without error, removed otherwise.

    The writer must have closed the file when the block ends; it is fsynced here.
    """
    target, renamable = _target(path)
    if not renamable:
        yield target
        return
    with _signals_raise(), _created(target.parent, target.name) as (temporary, handle):
        os.close(handle)
        yield temporary
        handle = os.open(temporary, os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)
        _settle(temporary, target)


@contextlib.contextmanager
def scratch_beside(path: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for an intermediate file, always removed at the end."""
    target, renamable = _target(path)
    folder = target.parent if renamable else Path(tempfile.gettempdir())
    with _signals_raise(), _created(folder, path.name) as (temporary, handle):
        os.close(handle)
        yield temporary


@overload
def replacing(path: Path, mode: Literal["text"] = "text") -> contextlib.AbstractContextManager[TextIO]: ...
@overload
def replacing(path: Path, mode: Literal["binary"]) -> contextlib.AbstractContextManager[BinaryIO]: ...
def replacing(path: Path, mode: Literal["text", "binary"] = "text") -> contextlib.AbstractContextManager[Any]:
    """A stream to write ``path`` through: the file is replaced when the block ends without error.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with replacing(folder / "report.json") as stream:
    ...     _ = stream.write("{}")
    >>> (folder / "report.json").read_text(), [p.name for p in folder.iterdir()]
    ('{}', ['report.json'])
    """
    return _replacing(path, mode)


@contextlib.contextmanager
def _replacing(path: Path, mode: str) -> Iterator[IO[Any]]:
    target, renamable = _target(path)
    if not renamable:
        with target.open("w" if mode == "text" else "wb", **_text_options(mode)) as direct:
            yield direct
        return
    with _signals_raise(), _created(target.parent, target.name) as (temporary, handle):
        stream = os.fdopen(handle, "w" if mode == "text" else "wb", **_text_options(mode))
        try:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        finally:
            with contextlib.suppress(OSError, ValueError):
                stream.close()  # may fail again (a full disk): the first error is the one reported
        _settle(temporary, target)


def _text_options(mode: str) -> dict[str, Any]:
    return {"encoding": "utf-8", "newline": ""} if mode == "text" else {}


def replace_file(path: Path, write: Callable[[TextIO], object]) -> None:
    """Write a text file whole or not at all: ``write`` is given the stream.

    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "page.md"
    >>> replace_file(path, lambda stream: stream.write("# core"))
    >>> path.read_text()
    '# core'
    """
    with replacing(path) as stream:
        write(stream)
