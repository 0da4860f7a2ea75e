"""Small helpers: atomic writes (nothing saved is ever half-written), finite numbers only,
output folders checked before a long run starts, and the name of the CPU that computes."""
from __future__ import annotations

import json
import math
import os
import platform
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


def atomic_write_bytes(data: bytes, path: str | os.PathLike) -> Path:
    return _atomic_write(path, lambda handle: handle.write(data))


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    return _atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def atomic_write_json(data, path: str | os.PathLike) -> Path:
    """Write ``data`` as JSON, atomically; a NaN or infinity anywhere in it is refused, never stored."""
    check_finite(data, f"the data for {Path(path).name}")
    return atomic_write_text(json.dumps(data, indent=2, sort_keys=False, allow_nan=False) + "\n", path)


class NonFiniteError(ValueError):
    """A number that should be stored is NaN or infinite."""


def read_stored_json(path: str | os.PathLike, how_to_make: str):
    """A results file a command wrote, or one line that says which command makes it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run {how_to_make}")
    return json.loads(path.read_text())


def non_finite(data, where: str = "") -> list[str]:
    """Where ``data`` (nested dicts and lists) holds a NaN or an infinity, as ``a.b[2]`` paths."""
    if isinstance(data, float):
        return [] if math.isfinite(data) else [where or "the value"]
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in non_finite(value, f"{where}.{key}" if where else str(key))]
    if isinstance(data, (list, tuple)):
        return [p for i, value in enumerate(data) for p in non_finite(value, f"{where}[{i}]")]
    return []


def check_finite(data, what: str) -> None:
    bad = non_finite(data)
    if bad:
        raise NonFiniteError(f"{what} holds {len(bad)} non-finite number(s) (first: {bad[0]}); "
                             f"nothing was written")


def ensure_writable_folder(path: str | os.PathLike, option: str = "--out") -> Path:
    """Create ``path`` if needed and check that files can be written there, before any long work."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is a file, not a folder; name a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-")
        probe.close()
    except OSError as exc:
        raise ValueError(f"{option} {path} cannot be written ({exc.strerror or exc}); "
                         f"choose a folder you can write to") from None
    return path


def flush_denormal_floats() -> None:
    """Treat denormal floats (below about 1e-38) as zero on the CPU, for the rest of the process.

    A few epochs into training, some weights, gradients and Adam states fall into that range, and
    x86 CPUs handle such numbers in slow microcode: the CVAE's epochs went from 4.4 s to 6.9 s from
    the fifth on. Flushing them changes no printed digit of the losses (measured over 8 epochs).
    The setting belongs to a thread, and torch's worker threads copy it from the thread that starts
    them: ``import cvae_lib`` calls this before they exist, and the training loop and the estimators
    call it again for the calling thread. A no-op where the CPU has no such mode.
    """
    torch.set_flush_denormal(True)


def cpu_model(cpuinfo: str | None = None) -> str:
    """The processor's name and, on x86, its family and model numbers. Two machines of one cloud
    "kind" can hold different CPUs, whose matrix kernels round differently (and run at different
    speeds): a number reproduces bit for bit only on the same model with the same threads. Read
    from /proc/cpuinfo on Linux (``cpuinfo``: its text, for tests); elsewhere what ``platform`` knows."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(errors="replace")
        except OSError:
            cpuinfo = ""
    fields = {}
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())  # the first processor's lines
    name = fields.get("model name") or platform.processor() or platform.machine()
    if fields.get("cpu family") and fields.get("model"):
        name += f", family {fields['cpu family']}, model {fields['model']}"
    return name
