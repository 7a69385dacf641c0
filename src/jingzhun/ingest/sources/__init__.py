"""Built-in source mappings for known data sets (``jz ingest --source NAME PATH``).

Each module here defines ``SOURCE = Source(...)``: a name, a one-line description, what PATH is
(a file or a folder), and ``ingest(wh, path, secrets=..., progress=...) -> list[IngestResult]``
that stages the raw file(s) once (``feeds.stage_named``) and loads each canonical table through
its own mapping (``feeds.ingest_query``), one ingest run per table.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jingzhun.errors import ConfigError, InputError

#: name -> module (imported on first use, so the CLI starts fast)
_MODULES = {
    "cdnow": "jingzhun.ingest.sources.cdnow",
    "hillstrom": "jingzhun.ingest.sources.hillstrom",
    "online_retail": "jingzhun.ingest.sources.online_retail",
    "completejourney": "jingzhun.ingest.sources.completejourney",
}


@dataclass(frozen=True)
class Source:
    """A built-in source: how one known data set maps into the canonical tables.

    ``ingest(wh, path, *, secrets, progress=None) -> list[IngestResult]`` loads ``path`` (what
    ``path_hint`` says) into the warehouse ``wh``, pseudonymising with ``secrets`` and calling
    ``progress`` with the bytes read since its last call; one result per table, in load order.
    """

    name: str
    description: str
    path_hint: str  # what PATH must be, e.g. "CDNOW_master.txt" or "the Parquet folder"
    ingest: Callable[..., list]
    #: currency of its money columns where no table says it (a source without orders)
    currency: str | None = None

    def check_file(self, path: Path) -> None:
        """``InputError`` saying what PATH should be when ``path`` is not a file."""
        if not path.is_file():
            raise InputError(f"{path}: no such file", hint=f"PATH is {self.path_hint}")


def source_names() -> list[str]:
    """Names of the built-in sources."""
    return sorted(_MODULES)


def get_source(name: str) -> Source:
    """The built-in source ``name``; ``ConfigError`` listing the known ones otherwise."""
    if name not in _MODULES:
        raise ConfigError(f"unknown source {name!r}", hint=f"built-in sources: {', '.join(source_names())}")
    return importlib.import_module(_MODULES[name]).SOURCE


def ingest_source(name: str, wh, path: str | Path, **kwargs) -> list:
    """Ingest ``path`` with built-in source ``name``; returns one result per table loaded."""
    return get_source(name).ingest(wh, Path(path), **kwargs)
