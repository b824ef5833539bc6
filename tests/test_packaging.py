"""The src layout: a checkout (a folder named `hiergenre`) in the working directory never shadows
the installed package, for `python -m hiergenre` and for `import hiergenre`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_folder_named_hiergenre_in_the_working_directory_does_not_shadow_the_package(tmp_path):
    checkout = tmp_path / "hiergenre"  # what `git clone .../hiergenre` leaves in the folder
    (checkout / "src").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'hiergenre'\n")
    (checkout / "README.md").write_text("a checkout\n")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    version = run("-m", "hiergenre", "--version")
    assert version.returncode == 0 and version.stdout.startswith("hiergenre "), version.stderr
    probe = run("-c", "import hiergenre; print(hiergenre.__file__, hiergenre.load_predictor)")
    assert probe.returncode == 0, probe.stderr
    assert "function load_predictor" in probe.stdout
    assert not probe.stdout.startswith(str(checkout))  # the installed package, not the folder


def test_the_package_lives_under_src():
    assert (ROOT / "src" / "hiergenre" / "__init__.py").is_file()
    assert not (ROOT / "hiergenre").exists()
