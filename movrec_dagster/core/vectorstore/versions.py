"""Collection versions behind named pointers: the blue/green logic, written once for both engines.

"serving" is what queries read; "previous" is what `rollback` returns to; "building" is a rebuild in
progress, which live writes also go to. An engine supplies five primitives (read the pointers, move
several at once atomically, does a version exist, delete one, read one's record); everything else is
here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from .types import NoServingCollection, VersionInfo

ROLES = ("serving", "previous", "building")


def alias_name(alias: str, role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown alias role {role!r}")
    return alias if role == "serving" else f"{alias}__{role}"


def version_name(alias: str, model: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in model.rsplit("/", 1)[-1].lower()).strip("-")
    return f"{alias}__{slug}__{time.strftime('%Y%m%d%H%M%S')}{int(time.time() * 1000) % 1000:03d}"


class VersionedStore:
    """Pointers (aliases) to collection versions over an engine's primitives."""

    alias: str

    # the engine's primitives
    def _pointers(self) -> dict[str, str]:
        """Alias name -> version, as stored now."""
        raise NotImplementedError

    def _move_pointers(self, current: dict[str, str], changes: dict[str, str | None]) -> None:
        """Apply `changes` (alias name -> version, None: remove) in one atomic step."""
        raise NotImplementedError

    def _exists(self, name: str) -> bool:
        raise NotImplementedError

    def _delete_version(self, name: str) -> None:
        raise NotImplementedError

    def _info(self, name: str) -> VersionInfo:
        """An existing version's record, as `create_version` wrote it (points not counted)."""
        raise NotImplementedError

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Held while pointers move or versions go (a cross-process lock for the embedded engine)."""
        yield

    # the logic
    def pointer(self, role: str) -> str | None:
        return self._pointers().get(alias_name(self.alias, role))

    def serving_version(self) -> str | None:
        return self.pointer("serving")

    def serving_model(self) -> str:
        """The model the serving version was built with."""
        return self.serving_info().model

    def serving_info(self) -> VersionInfo:
        """The serving version's record (its models, sizes and formats)."""
        return self.version_info(None)

    def version_info(self, version: str | None) -> VersionInfo:
        """A version's record (None: the serving one's). A version's record never changes, so it is
        remembered per version: listing versions reads every version's metadata, which costs more
        than a search when asked per query."""
        infos: dict[str, VersionInfo] = self.__dict__.setdefault("_infos", {})
        name = version if version in infos else self._resolve(version)
        if name not in infos:
            infos[name] = self._info(name)
        return infos[name]

    def _resolve(self, version: str | None) -> str:
        name = version or self.serving_version()
        if not name:
            raise NoServingCollection(f"no collection is serving alias '{self.alias}' yet: run `movrec ingest`")
        if not self._exists(name):
            raise NoServingCollection(f"collection version '{name}' does not exist")
        return name

    def set_pointers(self, changes: dict[str, str | None]) -> None:
        """Move several pointers at once: readers see all of the moves or none."""
        with self._guard():
            resolved = {
                alias_name(self.alias, role): (self._resolve(name) if name is not None else None)
                for role, name in changes.items()
            }
            self._move_pointers(self._pointers(), resolved)

    def switch(self, name: str) -> None:
        self.set_pointers({"serving": name})

    def drop_version(self, name: str) -> None:
        with self._guard():
            held = [role for role in ROLES if self.pointer(role) == name]
            if held:
                raise ValueError(f"'{name}' is the {held[0]} version of alias '{self.alias}'; switch first")
            self._delete_version(name)
            self.__dict__.get("_infos", {}).pop(name, None)  # a later version may take the name
