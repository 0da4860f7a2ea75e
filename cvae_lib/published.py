"""Published trained models: packed for a release, fetched when a chapter misses a checkpoint.

``python -m cvae_lib publish-models`` (part of ``make publish``) packs the files the chapters
load (:data:`PUBLISHED_FILES`: seed 0's checkpoints and stored evaluations of every setting, the
whole-digit models, the published results) into one archive under ``_build/release/``, and writes
the manifest ``cvae_lib/published_models.json`` (committed, and installed with the library): each
file's path, size and SHA-256, and the archive's name, size, SHA-256 and download URL, a release
asset of the repository named in ``_config.yml``. A published file that is not on the packing
machine (a model trained elsewhere that this run did not retrain) is not dropped: the manifest keeps
it under ``earlier``, with the archive of the release that already holds it.

When a checkpoint is missing and the manifest lists it, :mod:`cvae_lib.fetch` downloads the
archive that holds it, verified, and writes the missing files (or says in one line why not).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("published_models.json")
MANIFEST_FORMAT = 2  # 2: published files of earlier releases kept under "earlier"; 1 is read too
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
    "results/remade/cll.json",  # chapter 5's: the table made again on another machine, seed against seed
    "results/remade/amd_epyc.json",  # chapter 5's: seeds made again on one more CPU model
)
READ_BLOCK_BYTES = 1 << 20  # files and downloads are hashed and copied in blocks of this size


class PublishError(RuntimeError):
    """The published models cannot be packed or fetched (the message says why and what to do)."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(READ_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


FILE_KINDS = ("checkpoint", "stored evaluation", "live-demo file", "results file")  # in the README's order


def _file_kind(path: str) -> str:
    """What a published file is, for the README's count: a model, an evaluation stored beside it, a
    file of chapter 5's live demo (``checkpoints/<profile>/web/``) or a results file."""
    if path.endswith(".pt"):
        return "checkpoint"
    if path.startswith("results/"):
        return "results file"
    return "live-demo file" if "/web/" in path else "stored evaluation"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"


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
    # published files this archive does not hold, each group with the earlier release's archive that does
    earlier: tuple[Manifest, ...] = ()

    @classmethod
    def read(cls, path: Path = MANIFEST_PATH) -> Manifest | None:
        """The manifest at ``path``; ``None`` when there is none (nothing was published yet)."""
        if not Path(path).exists():
            return None
        data = json.loads(Path(path).read_text())
        if data.get("format") not in (1, MANIFEST_FORMAT):
            raise PublishError(f"{path} has format {data.get('format')!r}, this library reads "
                               f"1 and {MANIFEST_FORMAT}; update the library")
        return cls._from_json(data)

    @classmethod
    def _from_json(cls, data: dict) -> Manifest:
        archive = data["archive"]
        return cls(data["tag"], archive["name"], archive["url"], archive["size"], archive["sha256"],
                   tuple(PublishedFile(**entry) for entry in data["files"]),
                   tuple(cls._from_json(group) for group in data.get("earlier", ())))

    def _json(self) -> dict:
        return {"tag": self.tag,
                "archive": {"name": self.archive, "url": self.url, "size": self.size, "sha256": self.sha256},
                "files": [dataclasses.asdict(entry) for entry in self.files]}

    def write(self, path: Path = MANIFEST_PATH) -> Path:
        from .util import atomic_write_json

        return atomic_write_json({"format": MANIFEST_FORMAT, **self._json(),
                                  "earlier": [group._json() for group in self.earlier]}, path)

    def archives(self) -> tuple[Manifest, ...]:
        """This archive and then the earlier ones, each with the published files it serves."""
        return (dataclasses.replace(self, earlier=()), *self.earlier)

    def all_files(self) -> tuple[PublishedFile, ...]:
        return tuple(entry for source in self.archives() for entry in source.files)

    def with_repository(self, repository_url: str) -> Manifest:
        """The same archives, downloaded from releases of another repository."""
        return dataclasses.replace(self, url=release_url(repository_url, self.tag, self.archive),
                                   earlier=tuple(group.with_repository(repository_url) for group in self.earlier))

    def summary(self) -> str:
        """What is published, in a sentence for the README (``update-readme`` writes it there)."""
        def counted(files) -> str:
            kinds = [_file_kind(entry.path) for entry in files]
            parts = [_count(kinds.count(kind), kind) for kind in FILE_KINDS if kind in kinds]
            return f"{_count(len(files), 'file')} ({', '.join(parts)})"

        text = (f"The models published now: [`{self.archive}`]({self.url}), {self.size / 2**20:.0f} MiB, "
                f"{counted(self.files)}, downloaded from the release `{self.tag}` (`make release-models` "
                f"attaches the archive to it).")
        for group in self.earlier:
            text += (f" {counted(group.files)} that it does not hold "
                     f"{'comes' if len(group.files) == 1 else 'come'} from the earlier release `{group.tag}` "
                     f"([`{group.archive}`]({group.url}), "
                     f"{group.size / 2**20:.0f} MiB): {'it was' if len(group.files) == 1 else 'they were'} "
                     f"published before and not trained again "
                     f"where this archive was packed.")
        return text


def release_url(repository_url: str, tag: str, name: str) -> str:
    """Where GitHub serves a release asset of ``repository_url``."""
    return f"{repository_url}/releases/download/{tag}/{name}"


def files_to_publish(root: Path) -> list[Path]:
    """The files of :data:`PUBLISHED_FILES` that exist under ``root``, sorted."""
    return sorted({path for pattern in PUBLISHED_FILES for path in root.glob(pattern) if path.is_file()})


def is_published(path: str) -> bool:
    """Whether ``path`` (relative to the project root) is one of :data:`PUBLISHED_FILES`."""
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in PUBLISHED_FILES)


def carried_over(previous: Manifest | None, packed: set[str]) -> tuple[Manifest, ...]:
    """The files of the ``previous`` manifest that are still published but not ``packed`` now (not on
    this machine), grouped by the earlier archive that holds them; a file no longer published is dropped."""
    groups, seen = [], set(packed)
    for source in previous.archives() if previous is not None else ():
        files = tuple(entry for entry in source.files if entry.path not in seen and is_published(entry.path))
        seen.update(entry.path for entry in files)
        if files:
            groups.append(dataclasses.replace(source, files=files))
    return tuple(groups)


def pack(root: Path, files: list[Path], out_dir: Path, repository_url: str,
         previous: Manifest | None = None) -> tuple[Path, Manifest]:
    """A reproducible ``.tar.gz`` of ``files`` (paths under ``root``) in ``out_dir``, and its manifest.

    The same files give the same archive bytes (sorted, no times, no owners), so the release tag,
    named after the archive's SHA-256, changes only when a published file does. The published files
    of the ``previous`` manifest that are not packed here stay in the manifest under ``earlier``.
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
    return path, Manifest(tag, name, release_url(repository_url, tag, name), len(data), digest, tuple(entries),
                          carried_over(previous, {entry.path for entry in entries}))
