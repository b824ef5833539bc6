"""The reference pages under docs/ build with mkdocs in strict mode (a broken link or a page left
out of the nav fails), and every relative link in the README points at a file that exists."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")

pytest.importorskip("mkdocs", reason="mkdocs is in the test extra: pip install -e '.[test]'")


def build(project: Path, site: Path) -> subprocess.CompletedProcess:
    # No --quiet: it hides the warnings from the count that --strict aborts on.
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_docs_build_strict(tmp_path):
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "commands" / "index.html").is_file()


def test_a_broken_link_fails_the_build(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    page = project / "docs" / "commands.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    result = build(project, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr


def test_readme_links_exist():
    text = (ROOT / "README.md").read_text()
    targets = [t for t in LINK.findall(text) if "://" not in t and not t.startswith("mailto:")]
    assert targets, "the README links to its reference pages"
    missing = [t for t in targets if not (ROOT / t).exists()]
    assert not missing, f"README links to missing files: {missing}"


def test_index_page_is_the_readme():
    """docs/index.md is generated from the README (`make docs`): one text, not two to keep equal."""
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import readme_to_index
    finally:
        sys.path.remove(str(ROOT / "docs"))
    want = readme_to_index.index_text((ROOT / "README.md").read_text())
    have = (ROOT / "docs" / "index.md").read_text()
    assert have == want, "docs/index.md is stale: run `python docs/readme_to_index.py`"
