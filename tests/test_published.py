"""The published models: packed once, downloaded from a server (here 127.0.0.1), verified, loaded.

A run makes tiny models on synthetic data, packs them as `make publish` does, and serves the archive
over HTTP; a second run with empty folders must download, verify and load them, and reproduce the
stored evaluation exactly. A damaged, cut-off or unreachable download is refused in one line,
leaves nothing behind, and the models are trained instead.
"""
import dataclasses
import hashlib
import http.server
import json
import shutil
import threading
from pathlib import Path

import pytest

from cvae_lib import experiment
from cvae_lib.__main__ import main
from cvae_lib.fetch import Fetcher
from cvae_lib.published import Manifest, PublishedFile, pack
from cvae_lib.settings import RunConfig
from cvae_lib.train import train_or_load_baseline, train_or_load_cvae
from tests.helpers import TINY, synthetic_data

REPOSITORY = "https://github.com/someone/cvae-book"


def _config(root: Path, manifest: Path | None = None) -> RunConfig:
    return RunConfig(TINY, data_dir="unused", checkpoint_dir=root / "checkpoints", results_dir=root / "results",
                     models_manifest=manifest)


def _setting(config: RunConfig):
    data = synthetic_data(2)
    baseline = train_or_load_baseline(data, config, progress=False)
    cvae = train_or_load_cvae(data, baseline, config, progress=False)
    return experiment.TrainedSetting(data, baseline, cvae, config.seed)


class _Server:
    """Serves one archive; ``mode`` makes it send it whole, damaged (one byte changed) or cut off."""

    def __init__(self, archive: Path):
        self.body, self.mode, self.requests = archive.read_bytes(), "whole", 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                body = server.body
                if server.mode == "damaged":
                    body = body[:1000] + bytes([body[1000] ^ 0xFF]) + body[1001:]
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if server.mode == "cut off" else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/{archive.name}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A maker's run (models, evaluation, a results file), its archive, a server and a manifest."""
    maker = tmp_path_factory.mktemp("maker")
    config = _config(maker)
    setting = _setting(config)
    evaluation = experiment.evaluate_setting_cached(setting, config)
    (maker / "results").mkdir()
    (maker / "results" / "cll.json").write_text(json.dumps({"numbers": evaluation["numbers"]}))
    files = sorted(p for p in maker.rglob("*") if p.is_file())
    archive, manifest = pack(maker, files, tmp_path_factory.mktemp("release"), REPOSITORY)
    server = _Server(archive)
    manifest_path = tmp_path_factory.mktemp("library") / "published_models.json"
    dataclasses.replace(manifest, url=server.url).write(manifest_path)
    yield {"maker": maker, "evaluation": evaluation, "server": server, "manifest": manifest_path,
           "archive": archive, "files": files}
    server.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("path, kind", [
    ("checkpoints/full/q1/seed0/cvae.pt", "checkpoint"),
    ("checkpoints/full/q1/seed0/evaluation_hybrid.json", "stored evaluation"),
    ("checkpoints/full/web/q1.onnx", "live-demo file"),
    ("checkpoints/full/web/manifest.json", "live-demo file"),
    ("results/before_search/cll.json", "results file"),
])
def test_the_readme_counts_each_published_file_as_what_it_is(path, kind):
    manifest = Manifest("t", "a.tar.gz", "https://example.org/a.tar.gz", 2**20, "0" * 64,
                        (PublishedFile(path, 1, "0" * 64), PublishedFile("results/cll.json", 1, "1" * 64)))
    words = {"checkpoint": "1 checkpoint, 1 results file", "stored evaluation": "1 stored evaluation, 1 results file",
             "live-demo file": "1 live-demo file, 1 results file", "results file": "2 results files"}[kind]
    assert f"2 files ({words})" in manifest.summary()


def test_the_manifest_names_every_file_with_its_size_and_sha256_and_a_release_url(published):
    manifest = Manifest.read(published["manifest"])
    maker = published["maker"]
    assert {entry.path for entry in manifest.files} == {str(p.relative_to(maker)) for p in published["files"]}
    for entry in manifest.files:
        data = (maker / entry.path).read_bytes()
        assert (entry.size, entry.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert manifest.sha256 == hashlib.sha256(published["archive"].read_bytes()).hexdigest()
    assert manifest.with_repository(REPOSITORY).url == (
        f"{REPOSITORY}/releases/download/{manifest.tag}/{manifest.archive}")
    assert manifest.tag == f"models-{manifest.sha256[:12]}"


def test_packing_the_same_files_again_gives_the_same_archive(published, tmp_path):
    archive, manifest = pack(published["maker"], published["files"], tmp_path, REPOSITORY)
    assert archive.read_bytes() == published["archive"].read_bytes()
    assert manifest.tag == Manifest.read(published["manifest"]).tag


def test_missing_models_are_downloaded_verified_and_reproduce_the_stored_evaluation_exactly(published, tmp_path,
                                                                                            capsys):
    config = _config(tmp_path, published["manifest"])
    setting = _setting(config)
    assert setting.baseline.loaded and setting.cvae.loaded
    # every checkpoint and evaluation, byte for byte, and nothing else: the published results go
    # only to a run of the published profile (`full`), never to a smoke run's results folder
    checkpoints = {name: data for name, data in _files(published["maker"]).items() if name.startswith("checkpoints")}
    assert _files(tmp_path) == checkpoints
    stored = experiment.evaluate_setting_cached(setting, config)
    assert stored["loaded"] and stored["numbers"] == published["evaluation"]["numbers"]
    recomputed = experiment.evaluate_setting(setting, config)
    assert recomputed["numbers"] == published["evaluation"]["numbers"]
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("downloading the published models"), out  # once, for all files


@pytest.mark.parametrize("mode, reason", [("damaged", "SHA-256"), ("cut off", "could not download")])
def test_a_damaged_or_cut_off_download_is_refused_and_leaves_nothing(published, tmp_path, capsys, mode, reason):
    server = published["server"]
    server.mode = mode
    try:
        lines = []
        fetcher = Fetcher(Manifest.read(published["manifest"]), tmp_path / "checkpoints", tmp_path / "results",
                          progress=False, log=lines.append)
        wanted = tmp_path / "checkpoints" / "tiny" / "q2" / "seed0" / "cvae.pt"
        assert fetcher.fetch(wanted) is False
        assert _files(tmp_path) == {}, "a refused download left files behind"
        assert len(lines) == 2 and lines[0].startswith("downloading the published models")
        assert reason in lines[1] and lines[1].startswith("published models not used") and "training instead" in lines[1]
        Fetcher._failed.clear()
        # through the library: the same two lines (not one per model), and the models are trained instead
        setting = _setting(_config(tmp_path, published["manifest"]))
        assert not setting.baseline.loaded and not setting.cvae.loaded
        out = capsys.readouterr().out.strip().splitlines()
        assert len(out) == 2 and reason in out[1], out
    finally:
        server.mode = "whole"
        Fetcher._failed.clear()


def test_offline_the_library_says_so_once_and_trains(published, tmp_path, capsys):
    manifest = Manifest.read(published["manifest"])
    offline = tmp_path / "offline.json"
    dataclasses.replace(manifest, url="http://127.0.0.1:9/" + manifest.archive).write(offline)  # port 9: closed
    try:
        setting = _setting(_config(tmp_path / "run", offline))
    finally:
        Fetcher._failed.clear()
    assert not setting.baseline.loaded and not setting.cvae.loaded
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and "could not download" in out[1] and "training instead" in out[1], out


@pytest.mark.parametrize("value", ["0", "off", "no", "false"])
def test_cvae_download_0_turns_downloading_off(published, tmp_path, monkeypatch, value):
    monkeypatch.setenv("CVAE_DOWNLOAD", value)
    assert RunConfig.from_environment("fast").models_manifest is None
    monkeypatch.delenv("CVAE_DOWNLOAD")
    assert RunConfig.from_environment("fast").models_manifest is not None
    requests = published["server"].requests
    setting = _setting(_config(tmp_path, None))
    assert not setting.cvae.loaded and published["server"].requests == requests


def test_a_file_that_exists_is_never_replaced_by_the_download(published, tmp_path):
    mine = tmp_path / "results" / "cll.json"
    mine.parent.mkdir(parents=True)
    mine.write_text("{}")
    fetcher = Fetcher(Manifest.read(published["manifest"]), tmp_path / "checkpoints", tmp_path / "results",
                      progress=False)
    assert fetcher.fetch(tmp_path / "checkpoints" / "tiny" / "q2" / "seed0" / "baseline.pt")
    assert mine.read_text() == "{}"
    assert (tmp_path / "checkpoints" / "tiny" / "q2" / "seed0" / "cvae.pt").exists()


def test_publish_models_packs_what_the_chapters_load_and_writes_the_manifest(tmp_path, monkeypatch, capsys):
    root = Path(__file__).resolve().parents[1]
    shutil.copy(root / "_config.yml", tmp_path)
    (tmp_path / "cvae_lib").mkdir()
    for name, data in {"checkpoints/full/q1/seed0/cvae.pt": b"weights",
                       "checkpoints/full/q1/seed0/evaluation.json": b"{}",
                       "checkpoints/full/q1/seed0/ablation/other.pt": b"not loaded by a chapter",
                       "checkpoints/full/q1/seed0/hybrid_alpha0.9.pt": b"the alpha sweep's, not loaded",
                       "checkpoints/full/q1/seed0/evaluation_hybrid_alpha0.9.json": b"{}",
                       "checkpoints/full/q1/seed1/cvae.pt": b"another seed",
                       "results/cll.json": b"{}"}.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    assert main(["publish-models"]) == 0
    manifest = Manifest.read(tmp_path / "cvae_lib" / "published_models.json")
    assert [entry.path for entry in manifest.files] == [
        "checkpoints/full/q1/seed0/cvae.pt", "checkpoints/full/q1/seed0/evaluation.json", "results/cll.json"]
    assert (tmp_path / "_build" / "release" / manifest.archive).stat().st_size == manifest.size
    assert manifest.url.startswith("https://github.com/cvae-book/cvae-book/releases/download/models-")
    assert manifest.tag in capsys.readouterr().out


def test_publish_models_with_nothing_trained_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    shutil.copy(Path(__file__).resolve().parents[1] / "_config.yml", tmp_path)
    (tmp_path / "cvae_lib").mkdir()
    monkeypatch.chdir(tmp_path)
    assert main(["publish-models"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to publish" in err[0]


def test_files_of_an_earlier_release_are_fetched_from_its_own_archive(published, tmp_path, tmp_path_factory):
    earlier = Manifest.read(published["manifest"])  # served by the test server
    newer_files = tmp_path_factory.mktemp("newer")
    (newer_files / "results").mkdir()
    (newer_files / "results" / "other.json").write_text("{}")
    _, newer = pack(newer_files, [newer_files / "results" / "other.json"], tmp_path_factory.mktemp("out"), REPOSITORY)
    newer = dataclasses.replace(newer, url="http://127.0.0.1:9/" + newer.archive, earlier=(earlier,))  # port 9: closed
    path = tmp_path / "published_models.json"
    newer.write(path)
    manifest = Manifest.read(path)
    assert manifest == newer and [source.tag for source in manifest.archives()] == [newer.tag, earlier.tag]
    lines = []
    fetcher = Fetcher(manifest, tmp_path / "checkpoints", tmp_path / "results", progress=False, log=lines.append)
    try:
        assert fetcher.fetch(tmp_path / "checkpoints" / "tiny" / "q2" / "seed0" / "cvae.pt")
        assert lines == [f"downloading the published models ({earlier.size / 2**20:.0f} MiB, once): {earlier.url}"]
        assert not fetcher.fetch(tmp_path / "results" / "other.json")  # the newer archive: not reachable here
        assert "could not download http://127.0.0.1:9/" in lines[-1]
    finally:
        Fetcher._failed.clear()


def test_publish_models_keeps_published_files_it_does_not_have_in_their_earlier_release(tmp_path, monkeypatch,
                                                                                     capsys):
    shutil.copy(Path(__file__).resolve().parents[1] / "_config.yml", tmp_path)
    (tmp_path / "cvae_lib").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "cll.json").write_text("{}")
    earlier_files = {"checkpoints/full/digits/seed0/cnn_digit_classifier.pt": "a model not trained here",
                     "results/cll.json": "packed again from this machine",
                     "checkpoints/full/q1/seed0/hybrid_alpha0.9.pt": "no longer published"}
    earlier = Manifest("models-0123456789ab", "cvae-book-models-0123456789ab.tar.gz",
                       "https://example.org/old.tar.gz", 1000, "0" * 64,
                       tuple(PublishedFile(path, 10, hashlib.sha256(text.encode()).hexdigest())
                             for path, text in earlier_files.items()))
    earlier.write(tmp_path / "cvae_lib" / "published_models.json")
    monkeypatch.chdir(tmp_path)
    assert main(["publish-models"]) == 0
    manifest = Manifest.read(tmp_path / "cvae_lib" / "published_models.json")
    assert [entry.path for entry in manifest.files] == ["results/cll.json"]
    assert [(group.tag, group.url, [entry.path for entry in group.files]) for group in manifest.earlier] == [
        (earlier.tag, earlier.url, ["checkpoints/full/digits/seed0/cnn_digit_classifier.pt"])]
    assert (f"1 file (1 checkpoint) that it does not hold comes from the "
            f"earlier release `{earlier.tag}`") in manifest.summary()
    assert f"1 published file not found here stays in the earlier release {earlier.tag}" in capsys.readouterr().out
    # packed once more from the same files, the earlier release is still named (not lost on the second run)
    assert main(["publish-models"]) == 0
    assert Manifest.read(tmp_path / "cvae_lib" / "published_models.json").earlier == manifest.earlier
