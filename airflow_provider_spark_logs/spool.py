"""Spool files: where a download is written and checked before anything is published.

A worker can be killed at any instant (OOM killer, a node drained, SIGKILL from a supervisor), and
ZIPs can be gigabytes. So a spool file must never be visible at the destination, and must not
outlive its process unnoticed:

* Beside a local destination, the spool is an anonymous file (Linux ``O_TMPFILE``) in the
  destination's own folder: no listing shows it, the kernel frees it when the process dies,
  and it is published by linking it under its name, without a copy.
* Everywhere else (object stores, or where the filesystem has no ``O_TMPFILE``), it is a named file
  in the provider's own folder, ``{tempdir}/airflow-provider-spark-logs-{uid}/``, named
  ``{pid}@{host}.{random}{suffix}``. The next spool made on the same machine removes the files of
  processes that are gone.

Temporary names next to a local destination (a fallback, see ``landing``) carry the same
``{pid}@{host}`` owner tag, so that the next landing of that key can tell a stale one from a live one.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from airflow_provider_spark_logs.exceptions import SparkLandingError

log = logging.getLogger(__name__)

SPOOL_FOLDER_PREFIX = "airflow-provider-spark-logs-"
#: Spool writes that fail because the disk cannot take more: a landing problem, named with its disk.
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@dataclass(frozen=True)
class Spool:
    """An open spool file: ``file`` to write and read, ``path`` to open it again by name.

    For an anonymous spool ``path`` is ``/proc/self/fd/N``, valid only while ``file`` is open.
    """

    file: IO[bytes]
    path: Path
    anonymous: bool


def owner_tag() -> str:
    """``{pid}@{host}``: which process on which machine a temporary file belongs to."""
    return f"{os.getpid()}@{socket.gethostname()}"


def left_by_a_dead_process(tag: str) -> bool:
    """Whether ``tag`` names a process of this machine that no longer runs.

    A process on another machine (a shared folder) is never judged; a pid taken again by a new
    process only keeps the file until that one ends.
    """
    pid, at, host = tag.partition("@")
    if not at or not pid.isdigit() or host != socket.gethostname():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _spool_folder_path() -> Path:
    return Path(tempfile.gettempdir()) / f"{SPOOL_FOLDER_PREFIX}{os.getuid()}"


def spool_folder() -> Path:
    """The provider's spool folder in the temp dir, private to this user; refused if someone else owns it."""
    folder = _spool_folder_path()
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SparkLandingError(
            f"The spool folder {folder} is not a directory of this user (uid {os.getuid()}): remove it, "
            "or point TMPDIR elsewhere."
        )
    return folder


def remove_stale_spools() -> list[str]:
    """Remove the spool files of processes on this machine that are gone; returns their names."""
    folder = _spool_folder_path()
    if not folder.is_dir():
        return []
    removed = []
    for entry in folder.iterdir():
        tag = entry.name.rsplit(".", 2)[0]
        if left_by_a_dead_process(tag):
            with suppress(FileNotFoundError):
                entry.unlink()
                removed.append(entry.name)
    if removed:
        log.warning("Removed spool files left by processes that are gone: %s", ", ".join(removed))
    return removed


@contextmanager
def spool_file(suffix: str, beside: Path | None = None) -> Iterator[Spool]:
    """A spool file, closed (and, if named, removed) when the block ends, whatever happens.

    ``beside`` is the folder of a local destination: the spool is then anonymous there when the
    filesystem allows it. Stale spool files of this machine are removed first. A full disk is a
    :class:`SparkLandingError` that names the spool's folder.
    """
    remove_stale_spools()
    spool = (_anonymous_spool(beside) if beside is not None else None) or _named_spool(suffix)
    folder = beside if spool.anonymous and beside is not None else spool.path.parent
    full: OSError | None = None
    try:
        yield spool
    except OSError as error:
        if error.errno not in _DISK_FULL:
            raise
        full = error
    finally:
        with suppress(OSError):  # closing flushes, which fails again on a full disk
            spool.file.close()
        if not spool.anonymous:
            spool.path.unlink(missing_ok=True)
    if full is not None:
        raise SparkLandingError(
            f"The spool disk at {folder} is full ({full.strerror}): free space there, or point TMPDIR "
            "(or, for a local destination, its folder) at a disk with room for the ZIP and, with unpack, "
            "its largest CSV file."
        )


def _anonymous_spool(folder: Path) -> Spool | None:
    """An ``O_TMPFILE`` file in ``folder``, or None where the OS or filesystem has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None:
        return None
    try:
        fd = os.open(folder, flag | os.O_RDWR, 0o666)
    except OSError:  # EOPNOTSUPP, EISDIR or EINVAL: this filesystem or kernel cannot
        return None
    path = Path(f"/proc/self/fd/{fd}")
    if not path.exists():  # no /proc: it could never be linked under a name
        os.close(fd)
        return None
    return Spool(os.fdopen(fd, "w+b"), path, anonymous=True)


def _named_spool(suffix: str) -> Spool:
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed and removed by spool_file
        dir=spool_folder(), prefix=f"{owner_tag()}.", suffix=suffix, delete=False
    )
    return Spool(handle, Path(handle.name), anonymous=False)
