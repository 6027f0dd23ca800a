"""Files written whole: a temporary file beside the target, renamed into place in one step; on
any failure (an error, Ctrl-C) the temporary file is removed and the old file stays."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_beside(path: Path, suffix: str = ".tmp") -> Path:
    """A name for a temporary file or folder in `path`'s own folder (so that renaming it to
    `path` is atomic): hidden, unique to this write, ending in .tmp. Nothing is created."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def remove(path: Path) -> None:
    """Remove a temporary file or folder if it is there; a failure to is not the error to report."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    except OSError:
        pass


@contextmanager
def atomic(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside `path` to write to; when the block ends it replaces `path`
    in one step. On any failure (an error, Ctrl-C) it is removed: `path` is the old file or the
    new one, never a part of it, and no temporary file is left."""
    tmp = temp_beside(path)
    try:
        yield tmp
        with uninterrupted():
            os.replace(tmp, path)
    except BaseException:
        remove(tmp)
        raise


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Ctrl-C held back for the few renames that put finished files in place (so a set of files
    is moved whole), then raised."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
