"""Fetching the published models: the archive that holds a missing file, downloaded and verified.

:class:`Fetcher` reads the manifest of :mod:`cvae_lib.published`; when a chapter asks for a file
the manifest lists, it downloads the archive that holds it (this release's, or an earlier one's)
once, with a progress bar, checks its size and SHA-256 and then every file's, and writes the
missing files of that archive atomically; a file that exists is never replaced. Offline, on a
mismatch, or with ``$CVAE_DOWNLOAD=0`` it says so in one line and the caller trains instead.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .published import PUBLISHED_PROFILE, READ_BLOCK_BYTES, Manifest, PublishedFile, PublishError


class Fetcher:
    """Brings the published files into this project's folders when a checkpoint is missing.

    ``checkpoint_dir`` and ``results_dir`` are where the archive's ``checkpoints/`` and
    ``results/`` go (a run's folders); ``results_dir=None`` leaves the results out.
    """

    _failed: set[str] = set()  # URLs that failed in this process: said once, not tried again

    def __init__(self, manifest: Manifest | None, checkpoint_dir: Path, results_dir: Path | None,
                 progress: bool = True, log=print):
        self.manifest, self.progress, self.log = manifest, progress, log
        self.folders = {"checkpoints": Path(checkpoint_dir), "results": Path(results_dir) if results_dir else None}

    def local_path(self, entry: PublishedFile) -> Path | None:
        top, _, rest = entry.path.partition("/")
        folder = self.folders.get(top)
        return folder / rest if folder is not None and rest else None

    def source(self, path: Path) -> Manifest | None:
        """The archive (this manifest's or an earlier one) that holds ``path``; ``None`` if none lists it."""
        path = Path(path).resolve()
        for source in self.manifest.archives() if self.manifest is not None else ():
            if any(local is not None and local.resolve() == path for local in map(self.local_path, source.files)):
                return source
        return None

    def publishes(self, path: Path) -> bool:
        """Whether the manifest lists ``path`` (a file in this run's folders)."""
        return self.source(path) is not None

    def fetch(self, path: Path) -> bool:
        """Make ``path`` exist from the published archive; ``False`` (said in one line) if it cannot."""
        source = self.source(path)
        if source is None or source.url in self._failed:
            return False
        missing = [(entry, local) for entry in source.files
                   if (local := self.local_path(entry)) is not None and not local.exists()]
        self.log(f"downloading the published models ({source.size / 2**20:.0f} MiB, once): {source.url}")
        try:
            archive = self._download(source, Path(path).parent)
            try:
                self._extract(source, archive, missing)
            finally:
                archive.unlink(missing_ok=True)
        except PublishError as exc:
            self._failed.add(source.url)
            self.log(f"published models not used: {exc}; training instead")
            return False
        return Path(path).exists()

    def _download(self, manifest: Manifest, near: Path) -> Path:
        """``manifest``'s archive, downloaded to a temporary file beside ``near`` and verified."""
        near.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=near, prefix=f".{manifest.archive}.", suffix=".part")
        part = Path(name)
        digest, received = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(manifest.url, timeout=30) as response, \
                    _progress_bar(manifest, self.progress) as bar:
                for block in iter(lambda: response.read(READ_BLOCK_BYTES), b""):
                    received += len(block)
                    if received > manifest.size:
                        raise PublishError(f"{manifest.url} sent more than the {manifest.size:,} bytes published")
                    digest.update(block)
                    out.write(block)
                    bar.update(len(block))
            if received != manifest.size:
                raise PublishError(f"could not download {manifest.url}: it stopped at {received:,} of "
                                   f"{manifest.size:,} bytes")
            if digest.hexdigest() != manifest.sha256:
                raise PublishError(f"{manifest.archive} does not match the SHA-256 of the manifest "
                                   f"(a damaged or different file)")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            part.unlink(missing_ok=True)
            reason = getattr(exc, "reason", None) or exc
            raise PublishError(f"could not download {manifest.url} ({reason})") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        return part

    def _extract(self, manifest: Manifest, archive: Path, wanted: list[tuple[PublishedFile, Path]]) -> None:
        """Write the ``wanted`` members, each checked against its SHA-256; all or none of them."""
        from .util import atomic_write_bytes

        written = []
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                for entry, local in wanted:
                    try:
                        data = tar.extractfile(entry.path).read()
                    except (KeyError, AttributeError):
                        raise PublishError(f"{manifest.archive} lacks {entry.path}") from None
                    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
                        raise PublishError(f"{entry.path} in {manifest.archive} does not match the manifest")
                    written.append(atomic_write_bytes(data, local))
        except (tarfile.TarError, OSError, EOFError) as exc:
            for path in written:
                path.unlink(missing_ok=True)
            raise PublishError(f"{manifest.archive} cannot be unpacked ({exc})") from None
        except PublishError:
            for path in written:
                path.unlink(missing_ok=True)
            raise


def fetcher_for(config, progress: bool = True) -> Fetcher | None:
    """The fetcher of a run (a :class:`~cvae_lib.settings.RunConfig`); ``None`` when it does not
    download or no models were published."""
    manifest = Manifest.read(config.models_manifest) if config.models_manifest is not None else None
    if manifest is None:
        return None
    results = config.results_dir if config.profile.name == PUBLISHED_PROFILE else None  # not a smoke run's
    return Fetcher(manifest, config.checkpoint_dir, results, progress)


def _progress_bar(manifest: Manifest, shown: bool):
    from tqdm.auto import tqdm

    return tqdm(total=manifest.size, unit="B", unit_scale=True, unit_divisor=1024, disable=not shown,
                desc=f"downloading {manifest.archive}")
