"""The README's "Call it from another system" runs as written: its curl commands and its Python
block, against a real server (on a free port rather than 8000), and their answers are the ones
it shows."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from running import ROOT, Server, assert_answer, serving

SECTION = (ROOT / "README.md").read_text("utf-8").split("### Call it from another system")[1].split("\n### ")[0]


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with serving() as running:
        yield running


def _commands(block: str) -> list[tuple[str, str | None]]:
    """The shell block's commands (with their continued lines), each with the answer the comment
    under it shows (or None)."""
    commands: list[tuple[str, str | None]] = []
    for line in block.splitlines():
        if line.startswith("# "):
            commands[-1] = (commands[-1][0], line[2:])
        elif line.startswith(("curl ", "mentorrules ")):
            commands.append((line, None))
        elif line.strip():
            commands[-1] = (commands[-1][0] + "\n" + line, commands[-1][1])
    return commands


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_examples_answer_as_shown(server: Server) -> None:
    block = SECTION.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = _commands(block)
    assert commands[0][0] == "mentorrules serve --port 8000 &"  # the fixture started it, on its own port
    port = server.url.rsplit(":", 1)[1]
    shown = 0
    for command, answer in commands[1:]:
        assert command.startswith("curl ")
        done = subprocess.run(["bash", "-c", command.replace("localhost:8000", f"localhost:{port}")], cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=True)
        document = json.loads(done.stdout)
        assert "problems" not in document, document
        assert_answer("Report" if "/v1/validate" in command else "Decision" if "/v1/evaluate" in command
                      else "Stored", document)
        if answer is not None:  # the parts the README shows, in the order it shows them
            compact = done.stdout
            position = 0
            for part in filter(None, answer.split("…")):
                found = compact.find(part, position)
                assert found >= 0, f"{part!r} is not in the answer to {command[:60]}...: {compact[:400]}"
                position = found + len(part)
            shown += 1
    assert shown == 2


def test_the_python_example_runs_as_written(server: Server) -> None:
    code = SECTION.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'base_url="http://127.0.0.1:8000"' in code
    scope: dict[str, object] = {}
    exec(compile(code.replace("http://127.0.0.1:8000", server.url), "README.md", "exec"), scope)
    decision = scope["decision"]
    assert isinstance(decision, dict)
    assert_answer("Decision", decision)
    shown = re.search(r"^# (\(.*\))$", code, re.MULTILINE)
    assert shown is not None
    assert (decision["status"], decision["findings"], True) == ("pass", [], True) == ast.literal_eval(shown.group(1))
    answer = scope["answer"]
    assert answer.headers["X-Mentorrules-Digest"] == decision["digest"]  # type: ignore[attr-defined]
