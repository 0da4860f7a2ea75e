"""Published trained models: packed for a release, fetched when a chapter misses a checkpoint.

``python -m cvae_lib publish-models`` (part of ``make publish``) packs the files the chapters
load (:data:`PUBLISHED_FILES`: seed 0's checkpoints and stored evaluations of every setting, the
whole-digit models, the published results) into one archive under ``_build/release/``, and writes
the manifest ``cvae_lib/published_models.json`` (committed, and installed with the library): each
file's path, size and SHA-256, and the archive's name, size, SHA-256 and download URL, a release
asset of the repository named in ``_config.yml``.

When a checkpoint is missing and the manifest lists it, :meth:`Fetcher.fetch` downloads the
archive once (with a progress bar), checks its size and SHA-256 and then every file's, and writes
the files that are missing, each atomically; a file that exists is never replaced. Offline, on a
mismatch, or with ``$CVAE_DOWNLOAD=0`` it says so in one line and the caller trains instead.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import http.client
import io
import json
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("published_models.json")
MANIFEST_FORMAT = 1
RELEASE_DIR = Path("_build") / "release"
ARCHIVE_STEM = "cvae-book-models"
PUBLISHED_PROFILE = "full"  # the archive's results/ are this profile's
# What the chapters load, relative to the project root (checkpoints/ and results/ as by default).
PUBLISHED_FILES = (
    # the table's four models and their stored evaluations (not the α sweep's other hybrids)
    *(f"checkpoints/full/q[123]/seed0/{model}.pt" for model in ("baseline", "cvae", "gsnn", "hybrid")),
    *(f"checkpoints/full/q[123]/seed0/evaluation{suffix}.json" for suffix in ("", "_gsnn", "_hybrid")),
    "checkpoints/full/web/*",  # chapter 5's live demo: seed 0's models as ONNX graphs (export-web)
    "checkpoints/full/digits/seed0/cnn_digit_classifier.pt",  # chapters 7-9's judge
    # chapter 7's: the textbook design at every β, and q(z|x) concatenated at β = 1 (not the whole sweep)
    "checkpoints/full/digits/seed0/label_cvae_concat_labelled_encoder_beta*.pt",
    "checkpoints/full/digits/seed0/label_cvae_concat_beta1.pt",
    "checkpoints/full/digits/seed0/classifier_cvae*.pt",  # chapter 8's
    "results/cll.json",
    "results/ablation.json",
    "results/conditioning.json",
    "results/alpha_sweep.json",  # chapter 6's sweep of the hybrid's α
    "results/recipe_search.json",  # chapter 5's search of the other models' schedules
    "results/binarised/cll.json",  # chapter 5's table under the binarised protocol
    "results/before_search/cll.json",  # chapter 5's: the table before the recipe search, seed against seed
)
_CHUNK = 1 << 20


class PublishError(RuntimeError):
    """The published models cannot be packed or fetched (the message says why and what to do)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclasses.dataclass(frozen=True)
class PublishedFile:
    path: str  # relative to the project root: checkpoints/... or results/...
    size: int
    sha256: str


@dataclasses.dataclass(frozen=True)
class Manifest:
    tag: str  # the release the archive is attached to
    archive: str  # the archive's file name
    url: str  # where it is downloaded from
    size: int
    sha256: str
    files: tuple[PublishedFile, ...]

    @classmethod
    def read(cls, path: Path = MANIFEST_PATH) -> Manifest | None:
        """The manifest at ``path``; ``None`` when there is none (nothing was published yet)."""
        if not Path(path).exists():
            return None
        data = json.loads(Path(path).read_text())
        if data.get("format") != MANIFEST_FORMAT:
            raise PublishError(f"{path} has format {data.get('format')!r}, this library reads "
                               f"{MANIFEST_FORMAT}; update the library")
        archive = data["archive"]
        return cls(data["tag"], archive["name"], archive["url"], archive["size"], archive["sha256"],
                   tuple(PublishedFile(**entry) for entry in data["files"]))

    def write(self, path: Path = MANIFEST_PATH) -> Path:
        from .util import atomic_write_json

        return atomic_write_json({
            "format": MANIFEST_FORMAT,
            "tag": self.tag,
            "archive": {"name": self.archive, "url": self.url, "size": self.size, "sha256": self.sha256},
            "files": [dataclasses.asdict(entry) for entry in self.files],
        }, path)

    def with_repository(self, repository_url: str) -> Manifest:
        """The same archive, downloaded from a release of another repository."""
        return dataclasses.replace(self, url=release_url(repository_url, self.tag, self.archive))

    def summary(self) -> str:
        """What is published, in a sentence for the README (``update-readme`` writes it there)."""
        checkpoints = sum(entry.path.endswith(".pt") for entry in self.files)
        return (f"The models published now: [`{self.archive}`]({self.url}), {self.size / 2**20:.0f} MiB, "
                f"{len(self.files)} files ({checkpoints} checkpoints, "
                f"{len(self.files) - checkpoints} stored evaluations and results), downloaded from the "
                f"release `{self.tag}` (`make release-models` attaches the archive to it).")


def release_url(repository_url: str, tag: str, name: str) -> str:
    """Where GitHub serves a release asset of ``repository_url``."""
    return f"{repository_url}/releases/download/{tag}/{name}"


def files_to_publish(root: Path) -> list[Path]:
    """The files of :data:`PUBLISHED_FILES` that exist under ``root``, sorted."""
    return sorted({path for pattern in PUBLISHED_FILES for path in root.glob(pattern) if path.is_file()})


def pack(root: Path, files: list[Path], out_dir: Path, repository_url: str) -> tuple[Path, Manifest]:
    """A reproducible ``.tar.gz`` of ``files`` (paths under ``root``) in ``out_dir``, and its manifest.

    The same files give the same archive bytes (sorted, no times, no owners), so the release tag,
    named after the archive's SHA-256, changes only when a published file does.
    """
    from .util import atomic_write_bytes

    if not files:
        raise PublishError(f"nothing to publish under {root}: train the models first (make reproduce)")
    entries = []
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path in sorted(files):
            name = path.relative_to(root).as_posix()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            with open(path, "rb") as handle:
                archive.addfile(info, handle)
            entries.append(PublishedFile(name, info.size, sha256_of(path)))
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    tag = f"models-{digest[:12]}"
    name = f"{ARCHIVE_STEM}-{digest[:12]}.tar.gz"
    path = atomic_write_bytes(data, Path(out_dir) / name)
    return path, Manifest(tag, name, release_url(repository_url, tag, name), len(data), digest, tuple(entries))


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

    def publishes(self, path: Path) -> bool:
        """Whether the manifest lists ``path`` (a file in this run's folders)."""
        path = Path(path).resolve()
        return self.manifest is not None and any(
            local is not None and local.resolve() == path for local in map(self.local_path, self.manifest.files))

    def fetch(self, path: Path) -> bool:
        """Make ``path`` exist from the published archive; ``False`` (said in one line) if it cannot."""
        if not self.publishes(path):
            return False
        if self.manifest.url in self._failed:
            return False
        missing = [(entry, local) for entry in self.manifest.files
                   if (local := self.local_path(entry)) is not None and not local.exists()]
        self.log(f"downloading the published models ({self.manifest.size / 2**20:.0f} MiB, once): {self.manifest.url}")
        try:
            archive = self._download(Path(path).parent)
            try:
                self._extract(archive, missing)
            finally:
                archive.unlink(missing_ok=True)
        except PublishError as exc:
            self._failed.add(self.manifest.url)
            self.log(f"published models not used: {exc}; training instead")
            return False
        return Path(path).exists()

    def _download(self, near: Path) -> Path:
        """The archive, downloaded to a temporary file beside ``near`` and verified."""
        manifest = self.manifest
        near.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=near, prefix=f".{manifest.archive}.", suffix=".part")
        part = Path(name)
        digest, received = hashlib.sha256(), 0
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(manifest.url, timeout=30) as response, \
                    _progress_bar(manifest, self.progress) as bar:
                for block in iter(lambda: response.read(_CHUNK), b""):
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

    def _extract(self, archive: Path, wanted: list[tuple[PublishedFile, Path]]) -> None:
        """Write the ``wanted`` members, each checked against its SHA-256; all or none of them."""
        from .util import atomic_write_bytes

        written = []
        try:
            with tarfile.open(archive, mode="r:gz") as tar:
                for entry, local in wanted:
                    try:
                        data = tar.extractfile(entry.path).read()
                    except (KeyError, AttributeError):
                        raise PublishError(f"{self.manifest.archive} lacks {entry.path}") from None
                    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
                        raise PublishError(f"{entry.path} in {self.manifest.archive} does not match the manifest")
                    written.append(atomic_write_bytes(data, local))
        except (tarfile.TarError, OSError, EOFError) as exc:
            for path in written:
                path.unlink(missing_ok=True)
            raise PublishError(f"{self.manifest.archive} cannot be unpacked ({exc})") from None
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
