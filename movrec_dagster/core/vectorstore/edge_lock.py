"""Taking turns on an embedded shard across processes.

qdrant-edge locks a shard to one process, while Dagster runs, the CLI and the API are different
processes. Every operation takes the store's file lock, announcing itself first (a file under
`.waiting/`), and a long-lived reader (the API) that keeps the serving shard open between queries
lets go the moment someone announces they are waiting (within 20 ms), or after ten idle minutes.

Readers announce themselves too, so two readers (two API processes) take turns on demand rather
than by idling. Before they did, a reader let go after one idle second, and a person searching a
few seconds apart paid for reopening the shard on every query: `search()` 2 s apart at 10k movies
(30k points) took 342 ms p50 then, 129 ms now, against 16 ms back to back; most of what is left is
this VM's idle memory (bench/paced_search.py, BENCHMARKS.md).
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


def acquire_announced(root: Path, lock: FileLock) -> None:
    """Take the store's lock, announced while waiting (a file under `.waiting/`) so a held reader lets go."""
    waiting = root / ".waiting"
    waiting.mkdir(exist_ok=True)
    intent = waiting / f"{os.getpid()}-{uuid.uuid4().hex}"
    intent.touch()
    try:
        lock.acquire()
    finally:
        intent.unlink(missing_ok=True)


@contextlib.contextmanager
def exclusive(root: Path, lock: FileLock) -> Iterator[None]:
    """The store's lock for one operation, announced (`acquire_announced`)."""
    acquire_announced(root, lock)
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


_READERS: dict[str, HeldReader] = {}
_READERS_LOCK = threading.Lock()


def held_reader(root: Path, timeout_s: float) -> HeldReader:
    """The one held reader of a store folder in this process: the movies and the users collections
    (two aliases, one lock) share it, so reading one never makes this process give up the other."""
    key = str(Path(root).resolve())
    with _READERS_LOCK:
        if key not in _READERS:
            _READERS[key] = HeldReader(Path(root), timeout_s)
        return _READERS[key]


class HeldReader:
    """Open shards (one per collection version read) shared by a long-lived reader's threads, with the
    store's lock held; all given back as soon as another process (or this one) announces it is
    waiting, or after ten idle minutes."""

    IDLE_S = 600.0
    MAX_OPEN = 2  # the movies and the users versions; a third (a swap happened) starts afresh

    def __init__(self, root: Path, timeout_s: float) -> None:
        self.root, self.timeout_s = root, timeout_s
        self.mutex = threading.RLock()
        # not thread-local: the watcher thread may release what a request thread acquired
        self.lock = store_lock(root, timeout_s, thread_local=False)
        self.handles: dict[str, Any] = {}
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
        if self.handles:
            for handle in self.handles.values():
                handle.close()
            self.handles.clear()
            self.lock.release()

    def _watch(self) -> None:
        while True:
            time.sleep(0.02)
            with self.mutex:
                idle = time.monotonic() - self.last_used > self.IDLE_S
                if self.handles and (idle or self._others_waiting()):
                    self._release()

    @contextlib.contextmanager
    def shard(
        self, version: str | None, resolve: Callable[[str | None], str], load: Callable[[str], Any]
    ) -> Iterator[Any]:
        """The open shard of `version` (resolved by its store), opened under the lock if need be."""
        with self.mutex:
            name = resolve(version)
            crowded = name not in self.handles and len(self.handles) >= self.MAX_OPEN
            if self.handles and (crowded or self._others_waiting()):
                self._release()  # a swap happened, or a writer is waiting
            if name not in self.handles:
                if not self.handles:
                    deadline = time.monotonic() + self.timeout_s
                    while self._others_waiting() and time.monotonic() < deadline:
                        time.sleep(0.005)  # writers first
                    acquire_announced(self.root, self.lock)  # a reader in another process lets go
                try:
                    name = resolve(version)  # the alias may have moved while we waited
                    self.handles.setdefault(name, load(name))
                except BaseException:
                    if not self.handles:
                        self.lock.release()
                    raise
            self.last_used = time.monotonic()
            yield self.handles[name]
