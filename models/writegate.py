"""The SQLite write gate: writers of every thread and process queue, and each wakes the moment
the one before it commits.

SQLite's own busy handler makes a waiting writer sleep in steps of up to 100 ms even after the
lock is free; under load that, not the work, sets the tail latency. So writers queue here
before ``BEGIN IMMEDIATE``: the threads of a process on a lock, the processes on an advisory
lock (``flock``) on a file beside the database, which the kernel frees if its holder dies.

``flock`` blocks without a timeout, and a writer must give up after ``database.lock_timeout``
rather than wait forever behind a stuck process. So when the file lock is taken, the one
waiting thread of the process does not poll: it hands the blocking ``flock`` to a helper thread
and waits on a condition with its deadline. The helper takes the lock the moment it is freed
and hands it over; if the writer has given up by then, the helper frees it at once.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from peewee import OperationalError

TIMEOUT_MESSAGE = "database is locked (write queue timeout)"


class FileLock:
    """An exclusive ``flock`` on a file, shared by the threads of one process (one at a time:
    the caller serialises them), taken with a deadline and without polling."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cond = threading.Condition(threading.Lock())
        self._fd: int | None = None
        self._pid = 0
        self._wanted = False  # a writer is waiting for the helper
        self._granted = False  # the helper took the lock for that writer
        self._helper_busy = False  # the helper is blocked in flock or handing over
        self._helper: threading.Thread | None = None

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # reopen after a fork
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
            self._helper = None  # threads do not survive a fork
            self._wanted = self._granted = self._helper_busy = False
        return self._fd

    def acquire(self, deadline: float) -> bool:
        """Take the lock before ``deadline`` (time.monotonic); False if it could not be had."""
        with self._cond:
            fd = self._file()
            if not self._helper_busy:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    pass
            self._wanted, self._granted = True, False
            if self._helper is None:
                self._helper = threading.Thread(
                    target=self._serve, args=(fd,), name="sqlite-write-gate", daemon=True
                )
                self._helper.start()
            self._cond.notify_all()
            if self._cond.wait_for(lambda: self._granted, deadline - time.monotonic()):
                self._granted = False
                return True
            self._wanted = False  # given up: the helper frees the lock if it gets it now
            return False

    def release(self) -> None:
        fcntl.flock(self._file(), fcntl.LOCK_UN)

    def _serve(self, fd: int) -> None:
        """The helper: block in flock whenever a writer waits, and hand the lock over."""
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._wanted)
                self._helper_busy = True
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks with the GIL released
            except OSError:  # the descriptor is gone (a fork reopened it): stop
                with self._cond:
                    self._helper_busy = False
                    self._cond.notify_all()
                return
            with self._cond:
                self._helper_busy = False
                if self._wanted:
                    self._wanted, self._granted = False, True
                else:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                self._cond.notify_all()


class WriteGate:
    """Queue SQLite writers (see the module). Only the outermost write transaction of a thread
    passes the gate."""

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path + ".writelock"
        self.timeout = timeout
        self._lock = threading.Lock()
        self._local = threading.local()
        self._file = FileLock(self.path)

    @contextmanager
    def hold(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
            return
        deadline = time.monotonic() + self.timeout
        if not self._lock.acquire(timeout=self.timeout):
            raise OperationalError(TIMEOUT_MESSAGE)
        try:
            if not self._file.acquire(deadline):
                raise OperationalError(TIMEOUT_MESSAGE)
            self._local.depth = 1
            try:
                yield
            finally:
                self._local.depth = 0
                self._file.release()
        finally:
            self._lock.release()
