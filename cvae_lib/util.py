"""Small helpers: atomic writes, so that nothing saved is ever half-written."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch


def _atomic_write(path: str | os.PathLike, write) -> Path:
    """Write through ``write(file)`` to a temporary file beside ``path``, then rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give them the usual permissions
        os.replace(tmp, path)  # atomic on POSIX and Windows: readers see old or new, never half
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_torch_save(obj, path: str | os.PathLike) -> Path:
    return _atomic_write(path, lambda handle: torch.save(obj, handle))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    return _atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_write_json(data, path: str | os.PathLike) -> Path:
    return atomic_write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", path)
