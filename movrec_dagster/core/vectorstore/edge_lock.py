"""Taking turns on an embedded shard across processes.

qdrant-edge locks a shard to one process, while Dagster runs, the CLI and the API are different
processes. Every operation takes the store's file lock, announcing itself first (a file under
`.waiting/`), and a long-lived reader (the API) that keeps the serving shard open between queries
lets go the moment someone announces they are waiting, or after a second idle.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from filelock import FileLock


def store_lock(root: Path, timeout_s: float, thread_local: bool = True) -> FileLock:
    return FileLock(str(root / ".store.lock"), timeout=timeout_s, thread_local=thread_local)


@contextlib.contextmanager
def exclusive(root: Path, lock: FileLock) -> Iterator[None]:
    """The store's lock, announced first (a file under `.waiting/`) so a held reader lets go."""
    waiting = root / ".waiting"
    waiting.mkdir(exist_ok=True)
    intent = waiting / f"{os.getpid()}-{uuid.uuid4().hex}"
    intent.touch()
    try:
        lock.acquire()
    finally:
        intent.unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.release()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class HeldReader:
    """One open shard shared by a long-lived reader's threads, with the store's lock held; given back
    as soon as another process (or this one) announces it is waiting, or after a second idle.

    `resolve(version)` names the version to open, `load(name)` opens its shard.
    """

    IDLE_S = 1.0

    def __init__(
        self, root: Path, timeout_s: float, resolve: Callable[[str | None], str], load: Callable[[str], Any]
    ) -> None:
        self.root, self.timeout_s, self.resolve, self.load = root, timeout_s, resolve, load
        self.mutex = threading.RLock()
        # not thread-local: the watcher thread may release what a request thread acquired
        self.lock = store_lock(root, timeout_s, thread_local=False)
        self.name: str | None = None
        self.handle: Any = None
        self.last_used = 0.0
        threading.Thread(target=self._watch, name="movrec-held-reader", daemon=True).start()

    def _others_waiting(self) -> bool:
        waiting = self.root / ".waiting"
        for intent in waiting.iterdir() if waiting.is_dir() else []:
            pid = int(intent.name.split("-", 1)[0]) if intent.name.split("-", 1)[0].isdigit() else 0
            if pid and _alive(pid):
                return True
            intent.unlink(missing_ok=True)  # left by a killed process
        return False

    def _release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle, self.name = None, None
            self.lock.release()

    def _watch(self) -> None:
        while True:
            time.sleep(0.02)
            with self.mutex:
                idle = time.monotonic() - self.last_used > self.IDLE_S
                if self.handle is not None and (idle or self._others_waiting()):
                    self._release()

    @contextlib.contextmanager
    def shard(self, version: str | None) -> Iterator[Any]:
        with self.mutex:
            name = self.resolve(version)
            if self.handle is not None and (self.name != name or self._others_waiting()):
                self._release()  # a swap happened, or a writer is waiting
            if self.handle is None:
                deadline = time.monotonic() + self.timeout_s
                while self._others_waiting() and time.monotonic() < deadline:
                    time.sleep(0.005)  # writers first
                self.lock.acquire()
                try:
                    name = self.resolve(version)  # the alias may have moved while we waited
                    self.handle = self.load(name)
                except BaseException:
                    self.lock.release()
                    raise
                self.name = name
            self.last_used = time.monotonic()
            yield self.handle
