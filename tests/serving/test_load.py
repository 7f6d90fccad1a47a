"""The server under load and while it stops: 50 clients at once get only good answers, and a
server told to stop answers every request it accepted first.

Loopback only, bounded in count and time; the latencies are printed, never asserted (a slow
machine makes a slow server, not a wrong one; `make bench` measures speed).
"""

from __future__ import annotations

import http.client
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from running import AS_OF, Server, answered, example_tables, serving

CLIENTS = 50
SECONDS = 3.0
PER_CLIENT = 40  # at most 2,000 requests in all

PAYOUT = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
          "district": "Belen", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1000.00"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serving("--decision-log", tmp_path_factory.mktemp("load") / "decisions.jsonl") as running:
        yield running


def test_fifty_clients_at_once_get_only_good_answers(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    with server.client() as client:
        answered(client.put("/v1/reference/people/T-1", json={"person_id": "T-1", "career_year": 1}), 200, "Stored")
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)
    deadline = [0.0]

    def work(number: int) -> None:
        with server.client() as client:
            start.wait()
            if number == 0:
                deadline[0] = time.monotonic() + SECONDS
            for sent in range(PER_CLIENT):
                if sent and time.monotonic() > deadline[0] > 0:
                    return
                began = time.perf_counter()
                try:
                    response = client.post("/v1/evaluate", json={"record": {**PAYOUT, "payout_id": f"P-{number}"}})
                    ok = response.status_code == 200 and response.json()["key"] == f"P-{number}"
                    problem = "" if ok else f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as error:
                    problem = f"{type(error).__name__}: {error}"
                with lock:
                    latencies.append(time.perf_counter() - began)
                    if problem:
                        failures.append(problem)

    threads = [threading.Thread(target=work, args=(number,)) for number in range(CLIENTS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    elapsed = time.perf_counter() - began
    assert not any(thread.is_alive() for thread in threads)
    assert not failures, failures[:5]
    assert len(latencies) >= CLIENTS
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2], latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    with capsys.disabled():
        print(f"\nserve under load: {CLIENTS} clients, {len(latencies)} requests of POST /v1/evaluate in "
              f"{elapsed:.1f} s ({len(latencies) / elapsed:,.0f}/s): p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms")


def test_a_server_told_to_stop_answers_every_request_it_accepted(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    body = json.dumps({"tables": example_tables(), "as_of": AS_OF}).encode()
    with serving("--decision-log", log) as running:
        where = urlsplit(running.url)
        connections = []
        for _ in range(6):  # each a whole data set: they are still being checked when the signal comes
            connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=120)
            connection.request("POST", "/v1/validate", body=body, headers={"content-type": "application/json"})
            connections.append(connection)
        # Once a later request is answered, the six sent before it have been read by the server.
        with running.client() as client:
            answered(client.get("/healthz"), 200, "Health")
        running.process.send_signal(signal.SIGTERM)
        answers: list[dict[str, Any]] = []
        for connection in connections:
            response = connection.getresponse()
            assert response.status == 200
            answers.append(json.loads(response.read()))
            connection.close()
        # uvicorn ends by the signal it was stopped with, after its graceful shutdown, as servers do.
        assert running.process.wait(timeout=120) in (0, -signal.SIGTERM)
        assert running.process.stderr is not None and "Traceback" not in running.process.stderr.read()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{running.url}/healthz", timeout=5)
    rows = sum(map(len, example_tables().values()))
    assert all(answer["summary"]["rows"] == rows for answer in answers)
    logged = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert sorted(entry["decision_id"] for entry in logged) == sorted(answer["decision_id"] for answer in answers)
