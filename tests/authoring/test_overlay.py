"""One overlay rule for every command: a folder holding some of a pack's files is laid over it.

`validate`, `test`, `lint`, `explain`, `diff`, `docs` and `packs` recognise the folder the same
way (its file and parameter names, or a pack.yaml) and each says which pack it was laid over.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NM_RULES = ROOT / "plugins" / "new_mexico" / "src" / "mentorrules_new_mexico" / "rules"
CAPS = "yearly_limits.parameters.yaml"


@pytest.fixture
def lowered(tmp_path: Path) -> Path:
    """A folder with only the pilot cap file, the mentor cap lowered from 2000.00 to 1500.00."""
    folder = tmp_path / "caps"
    folder.mkdir()
    text = (NM_RULES / CAPS).read_text("utf-8")
    assert "2016-07-01: {mentor: 2000.00, mentee: 1000.00}" in text
    (folder / CAPS).write_text(text.replace("{mentor: 2000.00,", "{mentor: 1500.00,"), encoding="utf-8")
    return folder


COMMANDS = [
    pytest.param(("validate", EXAMPLES, "--as-of", "2026-01-01", "--rules", "FOLDER"), id="validate"),
    pytest.param(("test", "FOLDER"), id="test"),
    pytest.param(("lint", "FOLDER"), id="lint"),
    pytest.param(("explain", EXAMPLES, "--record", "payouts:P-0009", "--as-of", "2026-01-01", "--rules", "FOLDER"),
                 id="explain"),
    pytest.param(("docs", "--rules", "FOLDER"), id="docs"),
    pytest.param(("packs", "--rules", "FOLDER"), id="packs"),
]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_lays_the_folder_over_the_pack_and_says_so(run_cli, lowered: Path, tmp_path: Path,
                                                                 command: tuple[object, ...]) -> None:
    arguments = [lowered if part == "FOLDER" else part for part in command]
    if command[0] == "docs":
        arguments += ["--output", tmp_path / "site"]
    result = run_cli(*arguments)
    assert result.code != 2, result.err
    assert f"note: {lowered} laid over the pack new-mexico\n" in result.err


def test_the_pack_tests_run_with_the_laid_over_parameters(run_cli, lowered: Path) -> None:
    # Issue 15: a folder with one changed parameter file was taken as a pack with no rules, and
    # "82 passed" hid the cases its change breaks.
    result = run_cli("test", lowered)
    assert result.code == 1
    assert "over the cap 1500.00" in result.out
    assert "0 failed" not in result.out


def test_diff_says_the_same(run_cli, lowered: Path) -> None:
    result = run_cli("diff", EXAMPLES, "--after", lowered, "--as-of", "2026-01-01")
    assert result.out.splitlines()[1].endswith(f"{lowered} laid over the pack new-mexico")


def test_a_test_run_whose_overlay_changes_nothing_says_so(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "same"
    folder.mkdir()
    shutil.copy(NM_RULES / CAPS, folder)
    result = run_cli("test", folder)
    assert result.code == 0
    assert f"note: {folder} changes nothing in the pack new-mexico: its files are the pack's own" in result.err


def test_a_folder_with_rules_of_its_own_is_a_pack_of_its_own(run_cli, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(NM_RULES / CAPS, folder)  # a pack's parameter file beside a new rule
    (folder / "local.yaml").write_text(
        "rules:\n  - id: LOCAL-001\n    title: positive\n    table: payouts\n"
        "    require: payout.amount > 0\n    message: \"x\"\n", encoding="utf-8")
    result = run_cli("packs", "--rules", folder)
    assert "laid over" not in result.err
    assert "mine " in result.out


def test_a_pack_yaml_lays_a_folder_of_new_rules_over_the_pack_it_names(run_cli, lowered: Path) -> None:
    (lowered / "pack.yaml").write_text("name: new-mexico\n", encoding="utf-8")
    (lowered / "local.yaml").write_text(
        "rules:\n  - id: NMX-001\n    title: positive\n    table: payouts\n"
        "    require: payout.amount > 0\n    message: \"x\"\n", encoding="utf-8")
    result = run_cli("packs", "--rules", lowered)
    assert f"note: {lowered} laid over the pack new-mexico" in result.err
    assert "new-mexico       0.1.0      NM               15" in result.out
