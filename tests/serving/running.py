"""The real server, started as a user starts it (`mentorrules serve` on a free loopback port), and
what its answers must follow: the contract's schemas and the OpenAPI document's answers.

Test modules import what they need from here (the fixture ``server`` too)."""

from __future__ import annotations

import contextlib
import csv
import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from conftest import EXECUTABLE, assert_contract
from referencing import Registry, Resource

from mentorrules.serving.openapi import ANSWERS, contract_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
AS_OF = "2026-01-01"


@dataclass
class Server:
    """A running ``mentorrules serve``: its address and process."""

    url: str
    process: subprocess.Popen[str]

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **options)


@contextlib.contextmanager
def serving(*args: str | Path, cwd: Path | None = None) -> Iterator[Server]:
    """Start ``mentorrules serve --port 0 ARGS`` and wait (at most a minute) for its address."""
    process = subprocess.Popen([str(EXECUTABLE), "serve", "--port", "0", *map(str, args)], cwd=cwd,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONIOENCODING": "utf-8"})
    try:
        assert process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=60):
                pytest.fail("the server did not say where it listens within a minute")
        line = process.stdout.readline()
        found = re.search(r"listening on (http://\S+)", line)
        if not found:
            process.kill()
            pytest.fail(f"the server did not start: {line}{process.communicate(timeout=30)[1]}")
        yield Server(found.group(1), process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The plain server: every pack, no token, no mask, a decision log (``server.log``)."""
    folder = tmp_path_factory.mktemp("server")
    with serving("--decision-log", folder / "decisions.jsonl") as running:
        running.log = folder / "decisions.jsonl"  # type: ignore[attr-defined]
        yield running


@cache
def _registry() -> Registry:  # type: ignore[type-arg]
    return Registry().with_resources(
        [(schema["$id"], Resource.from_contents(schema)) for schema in map(contract_schema, ("report", "decision"))])


def assert_answer(name: str, document: object) -> None:
    """``document`` is the answer ``name`` of the OpenAPI document (Report and Decision are the
    contract's own schemas, checked as the suite checks the CLI's)."""
    if name in ("Report", "Decision"):
        assert_contract(name.lower(), document)
        return
    validator = jsonschema.Draft202012Validator(ANSWERS[name], registry=_registry())
    errors = list(validator.iter_errors(document))
    assert not errors, f"not a {name} answer: {errors[0].message} at {list(errors[0].path)}"


def answered(response: httpx.Response, status: int, name: str) -> dict[str, Any]:
    """The JSON of an answer with this status and schema, stamped with the digest and a decision id."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    assert document["digest"] == response.headers["x-mentorrules-digest"]
    assert document["decision_id"] == response.headers["x-mentorrules-decision-id"]
    assert_answer(name, document)
    return document


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A refusal: this status, a problem with this MR code, and no traceback."""
    document = answered(response, status, "Problems")
    assert code in [problem["code"] for problem in document["problems"]], document
    assert "Traceback" not in response.text
    return document["problems"][0]  # type: ignore[no-any-return]


def example_tables() -> dict[str, list[dict[str, str]]]:
    """The example data set as JSON tables: every cell as its CSV text, empty cells left out."""
    tables = {}
    for path in sorted(EXAMPLES.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as stream:
            tables[path.stem] = [{key: value for key, value in row.items() if value != ""}
                                 for row in csv.DictReader(stream)]
    return tables


def wait_for(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("gave up waiting")
        time.sleep(0.05)
