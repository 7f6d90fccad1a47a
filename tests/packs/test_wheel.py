"""The built wheels hold everything the packs need: a fresh environment checks examples/.

The core pack's rules and schemas live at the repository's root (``rules/``, ``schemas/``), where
administrators read them; the wheel must carry them all the same. Here the three wheels (core and
both state packs) are built and installed, without their dependencies, into a new virtual
environment that borrows only the third-party libraries of this one. Its report must be the
report of the working tree.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECTS = (ROOT, ROOT / "plugins" / "new_mexico", ROOT / "plugins" / "alaska")


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("wheels")
    for project in PROJECTS:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--wheel-dir", str(folder), str(project)], check=True, capture_output=True)
    return sorted(folder.glob("*.whl"))


def test_the_core_wheel_holds_every_rule_and_schema_file(wheels: list[Path]) -> None:
    [core] = [wheel for wheel in wheels if wheel.name.startswith("mentorrules-")]
    names = set(zipfile.ZipFile(core).namelist())
    expected = {f"mentorrules/rules/{path.name}" for path in (ROOT / "rules").glob("*.yaml")}
    expected |= {f"mentorrules/schemas/{path.relative_to(ROOT / 'schemas')}"
                 for path in (ROOT / "schemas").rglob("*.json")}
    assert expected and expected <= names, sorted(expected - names)


def test_a_fresh_environment_with_the_wheels_checks_the_examples(wheels: list[Path], tmp_path: Path) -> None:
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(fresh)], check=True)
    python = fresh / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # Third-party libraries come from this environment; mentorrules and its packs from the wheels only
    # (a folder named in a .pth file is on the path, but its own .pth files, the editable installs, are not).
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    *map(str, wheels)], check=True, capture_output=True)
    where = subprocess.run([str(python), "-c", "import mentorrules; print(mentorrules.__file__)"],
                           check=True, capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(fresh)), where

    def report(executable: Path | str) -> str:
        done = subprocess.run([str(executable), "-m", "mentorrules", "validate", str(ROOT / "examples"),
                               "--format", "json", "--as-of", "2026-01-01"],
                              capture_output=True, text=True, cwd=tmp_path, check=False)
        assert done.returncode in (0, 1), done.stderr
        return done.stdout

    assert report(python) == report(sys.executable)
