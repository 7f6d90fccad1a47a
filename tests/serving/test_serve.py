"""`mentorrules serve` over real HTTP: every endpoint, its refusals, its bounds, the decision log,
and the same answers as the command line and the library."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from running import (
    AS_OF,
    EXAMPLES,
    ROOT,
    Server,
    answered,
    example_tables,
    refused,
    server,
    serving,
)

from mentorrules import Engine
from mentorrules.checking.codegen import MASKED
from mentorrules.serving.openapi import contract_schema

__all__ = ["server"]  # the fixture, imported

PAYOUT = {"payout_id": "P-1", "payee_id": "T-1", "role": "mentor", "program": "NM_PILOT", "state": "NM",
          "district": "Belen", "school_year": "2025-26", "pay_date": "2025-09-15", "amount": "1200.00",
          "installment": 1}
RELATED = {"people": [{"person_id": "T-1", "name": "Ada Lovelace", "rating": "Highly Effective",
                       "rating_scale": "ELEVATE"}],
           "districts": [{"district": "Belen", "state": "NM", "participating_years": "2025-26"}],
           "pairings": [{"pairing_id": "PR-1", "program": "NM_PILOT", "mentor_id": "T-1", "mentee_id": "T-2",
                         "school_year": "2025-26", "start_date": "2025-08-01", "status": "active"}]}
KEYS = {"people": "person_id", "districts": "district", "pairings": "pairing_id"}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.load()


@pytest.fixture
def client(server: Server) -> httpx.Client:
    with server.client() as client:
        yield client  # type: ignore[misc]


# -- the service's own endpoints ----------------------------------------------------------------
def test_healthz_names_the_packs_and_stamps_the_digest(client: httpx.Client, engine: Engine) -> None:
    first = answered(client.get("/healthz"), 200, "Health")
    second = answered(client.get("/healthz"), 200, "Health")
    assert first["status"] == "ok" and first["digest"] == engine.digest
    assert {pack["name"] for pack in first["packs"]} == {"core", "new-mexico", "alaska"}
    assert first["decision_id"] != second["decision_id"]


def test_packs_lists_packs_and_tables(client: httpx.Client, engine: Engine) -> None:
    document = answered(client.get("/v1/packs"), 200, "Packs")
    assert [(pack["name"], pack["rules"]) for pack in document["packs"]] == [
        (pack.name, sum(rule.pack == pack.name for rule in engine.rules)) for pack in engine.packs]
    assert document["tables"]["payouts"]["key"] == ["payout_id"]
    assert "amount" in document["tables"]["payouts"]["columns"]


def test_openapi_lists_every_endpoint_with_the_contract_schemas(client: httpx.Client, server: Server) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"] == "3.1.0"
    operations = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    routes = {(re.sub(r":\w+}", "}", route.path), method)  # {key:path}: a key may hold a slash (T-1/S-3)
              for route in server_routes() for method in route.methods - {"HEAD"}}
    assert routes == operations
    for name in ("report", "decision"):  # the files in schemas/ are the ones the service ships
        shipped = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text("utf-8"))
        assert shipped == contract_schema(name) == spec["components"]["schemas"][name.title()]


def server_routes() -> list[Any]:
    from mentorrules.serving.app import create_app

    return list(create_app(Engine.load(packs=[])).routes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/v2/validate", 404), ("GET", "/v1/validate", 405), ("PATCH", "/v1/reference/people/T-1", 405)],
    ids=["an unknown endpoint", "a GET of validate", "a PATCH of a reference row"])
def test_unknown_endpoints_and_methods_are_refused_as_json(client: httpx.Client, method: str, path: str,
                                                          status: int) -> None:
    refused(client.request(method, path), status, "MR436")


# -- validate -----------------------------------------------------------------------------------
def test_validate_of_json_tables_and_of_uploaded_files_equal_the_cli_and_the_library(
        client: httpx.Client, engine: Engine, run_cli: Any) -> None:
    """The differential: one data set, four ways in, one report (after parsing, key for key)."""
    result = run_cli("validate", EXAMPLES, "--format", "json", "--as-of", AS_OF)
    assert result.code == 1, result.err
    from_cli = json.loads(result.out)
    from_library = engine.validate(EXAMPLES, as_of=dt.date.fromisoformat(AS_OF)).to_dict()
    from_json = answered(client.post("/v1/validate", json={"tables": example_tables(), "as_of": AS_OF}),
                         200, "Report")
    files = [("files", (path.name, path.read_bytes(), "text/csv")) for path in sorted(EXAMPLES.glob("*.csv"))]
    from_upload = answered(client.post("/v1/validate", files=files, data={"as_of": AS_OF}), 200, "Report")
    for answer in (from_json, from_upload):
        assert answer.pop("decision_id")
    assert from_cli == from_library == from_upload

    def lineless(report: dict[str, Any]) -> dict[str, Any]:  # rows sent as JSON have no line of a file
        return {**report, "records": [{k: v for k, v in record.items() if k != "line"}
                                      for record in report["records"]]}

    assert lineless(from_cli) == lineless(from_json)
    assert from_cli["summary"]["fail"] > 0 and len(from_cli["records"]) >= sum(map(len, example_tables().values()))


def test_validate_takes_a_workbook(client: httpx.Client, tmp_path: Path, engine: Engine) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "payouts"
    sheet.append(list(PAYOUT))
    sheet.append(list(PAYOUT.values()))
    people = book.create_sheet("people")
    people.append(["person_id", "career_year"])
    people.append(["T-1", 1])
    book.save(tmp_path / "run.xlsx")
    files = {"files": ("run.xlsx", (tmp_path / "run.xlsx").read_bytes(),
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")}
    report = answered(client.post("/v1/validate", files=files, params={"as_of": AS_OF}), 200, "Report")
    assert report.pop("decision_id")
    assert report == engine.validate(tmp_path / "run.xlsx", as_of=dt.date.fromisoformat(AS_OF)).to_dict()


def test_an_unreadable_row_is_a_record_with_its_problems(client: httpx.Client) -> None:
    rows = [PAYOUT, {**PAYOUT, "payout_id": "P-2", "amount": "1,200", "pay_date": "2025-02-30"}]
    report = answered(client.post("/v1/validate", json={"tables": {"payouts": rows}}), 200, "Report")
    record = report["records"][1]
    assert record["status"] == "unreadable"
    assert [(problem["column"], problem["value"], problem["code"]) for problem in record["problems"]] == [
        ("pay_date", "2025-02-30", "MR310"), ("amount", "1,200", "MR310")]


@pytest.mark.parametrize(("body", "code", "where"), [
    (b'{"tables": {"payouts": [}', "MR431", {"line": 1, "column": 25}),
    (b'[1, 2]', "MR431", {"path": "<request body>"}),
    (b'{"payouts": []}', "MR431", {"path": "<request body>"}),
    (b'{"tables": []}', "MR431", {"field": "tables"}),
    (b'{"tables": {"payouts": {"payout_id": "P-1"}}}', "MR431", {"path": "payouts"}),
    (b'{"tables": {"payouts": [{"payout_id": "P-1"}, 7]}}', "MR431", {"path": "payouts", "row": 2}),
    (b'{"tables": {"payout": []}}', "MR300", {}),
    (b'{"tables": {"payouts": []}, "as_of": "2025-02-30"}', "MR431", {"field": "as_of"}),
    (b'{"tables": {"payouts": [{"amount": NaN}]}}', "MR431", {}),
    (b'{"tables": {"payouts": [{"amount": "1.00", "amount": "2.00"}]}}', "MR431", {}),
], ids=["JSON cut short", "a list, not an object", "no tables", "tables a list", "rows an object",
        "a row a number", "an unknown table", "an impossible as_of", "NaN", "a key twice in a row"])
def test_bad_validate_bodies_are_400_with_code_and_place(client: httpx.Client, body: bytes, code: str,
                                                         where: dict[str, Any]) -> None:
    problem = refused(client.post("/v1/validate", content=body, headers={"content-type": "application/json"}),
                      400, code)
    assert where.items() <= problem["location"].items(), problem


def test_an_upload_is_said_of_its_own_file_names(client: httpx.Client) -> None:
    files = {"files": ("payouts.csv", b"payout_id,payee_id\nP-1,T-1\n", "text/csv")}
    problem = refused(client.post("/v1/validate", files=files), 400, "MR302")
    assert problem["location"]["path"] == "payouts.csv"
    refused(client.post("/v1/validate", files={"files": ("../../etc/passwd", b"x", "text/plain")}), 400, "MR300")
    refused(client.post("/v1/validate", data={"as_of": AS_OF}, files={}), 415, "MR431")  # no file: not multipart
    assert refused(client.post("/v1/validate", content=b"a,b", headers={"content-type": "text/csv"}),
                   415, "MR431")["location"]["field"] == "Content-Type"


# -- evaluate and the reference rows ------------------------------------------------------------
def _hold(client: httpx.Client, tables: dict[str, list[dict[str, Any]]]) -> None:
    for table, rows in tables.items():
        for row in rows:
            answered(client.put(f"/v1/reference/{table}/{row[KEYS[table]]}", json=row), 200, "Stored")


def test_evaluate_against_held_rows_equals_the_library(client: httpx.Client, engine: Engine) -> None:
    _hold(client, RELATED)
    try:
        decision = answered(client.post("/v1/evaluate", json={"record": PAYOUT}), 200, "Decision")
        expected = engine.evaluate(PAYOUT, related=RELATED)
        assert {key: decision[key] for key in expected.to_dict()} == expected.to_dict()
        assert decision["status"] == "fail" and [f["rule"] for f in decision["findings"]] == ["STIPEND-005"]
        assert "trace" not in decision
        explained = answered(client.post("/v1/evaluate", params={"explain": "true"}, json={"record": PAYOUT}),
                             200, "Decision")
        assert explained["trace"] == expected.trace()
        assert [step["outcome"] for step in explained["trace"] if step["rule"] == "STIPEND-005"] == ["fails"]
        fixed = answered(client.post("/v1/evaluate", json={"record": {**PAYOUT, "amount": "1000.00"}}),
                         200, "Decision")
        assert fixed["status"] == "pass", fixed
        # The payee is no longer held: the same payout now says so.
        answered(client.delete("/v1/reference/people/T-1"), 200, "Removed")
        gone = answered(client.post("/v1/evaluate", json={"record": {**PAYOUT, "amount": "1000.00"}}), 200,
                        "Decision")
        assert "STIPEND-003" in [finding["rule"] for finding in gone["findings"]]
    finally:
        for table, rows in RELATED.items():
            for row in rows:
                client.delete(f"/v1/reference/{table}/{row[KEYS[table]]}")


def test_a_key_of_two_columns_is_written_with_its_slash(client: httpx.Client) -> None:
    row = {"person_id": "T-1", "session_id": "S-3", "program": "NM_PILOT", "school_year": "2025-26",
           "date": "2025-10-01", "attended": "true"}
    answered(client.put("/v1/reference/attendance/T-1/S-3", json=row), 200, "Stored")
    assert answered(client.delete("/v1/reference/attendance/T-1/S-3"), 200, "Removed")["key"] == "T-1/S-3"


def test_reference_rows_are_checked(client: httpx.Client) -> None:
    refused(client.put("/v1/reference/people/T-9", json={"person_id": "T-1"}), 400, "MR431")
    refused(client.put("/v1/reference/peeple/T-1", json={"person_id": "T-1"}), 400, "MR300")
    refused(client.put("/v1/reference/people/T-1", json=["T-1"]), 400, "MR431")
    refused(client.delete("/v1/reference/people/T-404"), 404, "MR434")


@pytest.mark.parametrize(("body", "code"), [
    ({}, "MR431"), ({"record": ["P-1"]}, "MR431"), ({"record": PAYOUT, "table": 7}, "MR431"),
    ({"record": PAYOUT, "table": "payout"}, "MR300"), ({"record": PAYOUT, "as_of": 20250915}, "MR431"),
], ids=["no record", "a record that is a list", "a table that is a number", "an unknown table",
        "an as_of that is a number"])
def test_bad_evaluate_bodies_are_400(client: httpx.Client, body: dict[str, Any], code: str) -> None:
    refused(client.post("/v1/evaluate", json=body), 400, code)


def test_an_unreadable_record_is_a_decision_not_a_refusal(client: httpx.Client) -> None:
    decision = answered(client.post("/v1/evaluate", json={"record": {**PAYOUT, "amount": "12,00"}}), 200,
                        "Decision")
    assert decision["status"] == "unreadable"
    assert decision["problems"][0]["column"] == "amount" and decision["problems"][0]["value"] == "12,00"


# -- sessions -----------------------------------------------------------------------------------
def test_a_session_over_http_gives_the_library_sessions_findings(client: httpx.Client, engine: Engine) -> None:
    opened = answered(client.post("/v1/sessions", json={"as_of": AS_OF}), 201, "SessionOpened")
    name = opened["session"]
    with engine.session(dt.date.fromisoformat(AS_OF)) as local:
        for table, rows in RELATED.items():
            for row in rows:
                changed = answered(client.post(f"/v1/sessions/{name}/facts", json={"table": table, "row": row}),
                                   200, "SessionDecisions")
                assert changed["decisions"] == [decision.to_dict() for decision in local.post(table, row)]
        for payout in (PAYOUT, {**PAYOUT, "payout_id": "P-2", "installment": 2}):
            changed = answered(client.post(f"/v1/sessions/{name}/facts", json={"table": "payouts", "row": payout}),
                               200, "SessionDecisions")
            assert changed["decisions"] == [decision.to_dict() for decision in local.post("payouts", payout)]
            assert changed["decisions"][0]["key"] == payout["payout_id"]
        changed = answered(client.delete(f"/v1/sessions/{name}/facts/payouts/P-2"), 200, "SessionDecisions")
        assert changed["decisions"] == [decision.to_dict() for decision in local.retract("payouts", "P-2")]
        everything = answered(client.get(f"/v1/sessions/{name}/findings"), 200, "SessionDecisions")
        assert everything["decisions"] == [decision.to_dict() for decision in local.findings()]
    answered(client.delete(f"/v1/sessions/{name}"), 200, "SessionClosed")
    refused(client.get(f"/v1/sessions/{name}/findings"), 404, "MR434")
    refused(client.post(f"/v1/sessions/{name}/facts", json={"table": "payouts", "row": PAYOUT}), 404, "MR434")


def test_session_requests_are_checked(client: httpx.Client) -> None:
    name = answered(client.post("/v1/sessions"), 201, "SessionOpened")["session"]
    try:
        refused(client.post(f"/v1/sessions/{name}/facts", json={"row": PAYOUT}), 400, "MR431")
        refused(client.post(f"/v1/sessions/{name}/facts", json={"table": "payouts", "row": 5}), 400, "MR431")
        refused(client.post(f"/v1/sessions/{name}/facts", json={"table": "nope", "row": PAYOUT}), 400, "MR300")
        refused(client.delete(f"/v1/sessions/{name}/facts/nope/P-1"), 400, "MR300")
        refused(client.post("/v1/sessions", json={"as_of": "soon"}), 400, "MR431")
    finally:
        client.delete(f"/v1/sessions/{name}")


# -- the decision log -----------------------------------------------------------------------------
def test_every_decision_is_in_the_log_with_its_id(client: httpx.Client, server: Server) -> None:
    decision = answered(client.post("/v1/evaluate", json={"record": PAYOUT}), 200, "Decision")
    refusal = client.post("/v1/evaluate", json={})
    refused(refusal, 400, "MR431")
    report = answered(client.post("/v1/validate", json={"tables": {"payouts": [PAYOUT]}}), 200, "Report")
    log: Path = server.log  # type: ignore[attr-defined]
    entries = {entry["decision_id"]: entry for entry in map(json.loads, log.read_text("utf-8").splitlines())}
    logged = entries[decision["decision_id"]]
    assert logged["path"] == "/v1/evaluate" and logged["http_status"] == 200
    assert logged["record"] == PAYOUT and logged["status"] == "fail"
    assert logged["findings"] == decision["findings"] and logged["digest"] == decision["digest"]
    logged = entries[refusal.headers["x-mentorrules-decision-id"]]
    assert logged["http_status"] == 400 and logged["problems"][0]["code"] == "MR431"
    assert entries[report["decision_id"]]["summary"] == report["summary"]


# -- a server with a token, a mask and small bounds -----------------------------------------------
@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("guarded")
    (folder / "token").write_text("s3cret-token\n", encoding="utf-8")
    with serving("--token-file", folder / "token", "--decision-log", folder / "decisions.jsonl",
                 "--mask", "name,email", "--max-body", "4000", "--max-rows", "3") as running:
        running.log = folder / "decisions.jsonl"  # type: ignore[attr-defined]
        yield running


def test_a_token_is_needed_everywhere_but_healthz(guarded: Server) -> None:
    with guarded.client() as client:
        answered(client.get("/healthz"), 200, "Health")
        for method, path in (("GET", "/v1/packs"), ("POST", "/v1/evaluate"), ("GET", "/openapi.json"),
                             ("POST", "/v1/sessions")):
            assert refused(client.request(method, path), 401, "MR433")["location"]["field"] == "Authorization"
        refused(client.get("/v1/packs", headers={"Authorization": "Bearer wrong"}), 401, "MR433")
        refused(client.get("/v1/packs", headers={"Authorization": "Basic s3cret-token"}), 401, "MR433")
        answered(client.get("/v1/packs", headers={"Authorization": "Bearer s3cret-token"}), 200, "Packs")


def test_bodies_and_rows_past_the_bounds_are_413(guarded: Server) -> None:
    with guarded.client(headers={"Authorization": "Bearer s3cret-token"}) as client:
        big = {"tables": {"payouts": [{**PAYOUT, "payout_id": f"P-{n}", "time_effort_ref": "x" * 200}
                                      for n in range(40)]}}
        assert refused(client.post("/v1/validate", json=big), 413, "MR432")["location"]["path"] == "<request body>"

        def chunks() -> Any:  # no Content-Length: the body is counted as it arrives
            for _ in range(100):
                yield b" " * 100

        refused(client.post("/v1/validate", content=chunks(), headers={"content-type": "application/json"}),
                413, "MR432")
        four = {"tables": {"payouts": [{"payout_id": f"P-{n}"} for n in range(4)]}}
        assert "4 rows" in refused(client.post("/v1/validate", json=four), 413, "MR432")["message"]
        text = ",".join(PAYOUT) + "".join(f"\nP-{n}" + "," * (len(PAYOUT) - 1) for n in range(4)) + "\n"
        files = {"files": ("payouts.csv", text.encode(), "text/csv")}
        refused(client.post("/v1/validate", files=files), 413, "MR432")
        three = {"tables": {"payouts": [{"payout_id": f"P-{n}"} for n in range(3)]}}
        answered(client.post("/v1/validate", json=three), 200, "Report")


def test_masked_columns_reach_no_answer_and_no_log_line(guarded: Server) -> None:
    with guarded.client(headers={"Authorization": "Bearer s3cret-token"}) as client:
        person = {"person_id": "T-77", "name": "Grace Hopper", "email": "grace@example.org", "career_year": "x"}
        report = answered(client.post("/v1/validate", json={"tables": {"people": [person]}}), 200, "Report")
        assert report["masked"] == ["name", "email"]
        name = answered(client.post("/v1/sessions"), 201, "SessionOpened")["session"]
        posted = client.post(f"/v1/sessions/{name}/facts", json={"table": "people", "row": person})
        answered(posted, 200, "SessionDecisions")
        answered(client.put("/v1/reference/people/T-77", json=person), 200, "Stored")
        client.delete(f"/v1/sessions/{name}")
        # A cell that cannot be read: its problem is shown, the cell as written (masked) is not.
        evaluated = client.post("/v1/evaluate", params={"explain": "true"},
                                json={"table": "people", "record": {**person, "email": "grace\x00@example.org"}})
        decision = answered(evaluated, 200, "Decision")
        assert decision["status"] == "unreadable"
        assert {problem["column"]: problem["value"] for problem in decision["problems"]}.get("email") == MASKED
    for text in (json.dumps(report), posted.text, evaluated.text,
                 guarded.log.read_text("utf-8")):  # type: ignore[attr-defined]
        assert "Grace" not in text and "grace@" not in text
    assert "T-77" in guarded.log.read_text("utf-8")  # type: ignore[attr-defined]


def test_a_token_file_that_is_missing_or_empty_stops_the_command(run_cli: Any, tmp_path: Path) -> None:
    result = run_cli("serve", "--token-file", tmp_path / "none")
    assert result.code == 2 and "MR437" in result.err
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    result = run_cli("serve", "--token-file", tmp_path / "empty")
    assert result.code == 2 and "MR437" in result.err and "Traceback" not in result.err
    result = run_cli("serve", "--max-rows", "0")
    assert result.code == 2 and "MR437" in result.err


def test_a_port_in_use_is_said_without_a_traceback(run_cli: Any, server: Server) -> None:
    port = server.url.rsplit(":", 1)[1]
    result = run_cli("serve", "--port", port)
    assert result.code == 2 and "MR438" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("content_type", ["multipart/form-data; boundary=xyz", "multipart/form-data"],
                         ids=["a body that is not its parts", "no boundary"])
def test_an_upload_that_cannot_be_parsed_is_400(client: httpx.Client, content_type: str) -> None:
    response = client.post("/v1/validate", content=b"--xyz\r\nnot a part", headers={"content-type": content_type})
    assert response.status_code == 400, response.text
    refused(response, 400, "MR431")


def test_a_failure_of_the_service_is_500_with_its_id_and_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """In-process (httpx's ASGI transport): a context that fails as a bug would."""
    import asyncio

    from mentorrules.serving.app import create_app

    class Failing:
        def evaluate(self, record: Any, table: str = "payouts", as_of: dt.date | None = None) -> Any:
            raise RuntimeError("a bug")

        def upsert(self, table: str, row: Any) -> None:
            raise RuntimeError("a bug")

        def remove(self, table: str, key: str) -> bool:
            raise RuntimeError("a bug")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(Engine.load(packs=[]), context=Failing()))
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            return await client.post("/v1/evaluate", json={"record": PAYOUT})

    response = asyncio.run(call())
    problem = refused(response, 500, "MR439")
    assert response.headers["x-mentorrules-decision-id"] in problem["hint"]
    assert "a bug" not in response.text and "RuntimeError" not in response.text
    assert any("a bug" in record.getMessage() or (record.exc_info and "a bug" in str(record.exc_info[1]))
               for record in caplog.records)


def test_sessions_left_idle_are_closed_when_another_opens() -> None:
    """In-process, with no idle time allowed: opening a session closes those not in use."""
    import asyncio

    from mentorrules.serving.app import Settings, create_app

    app = create_app(Engine.load(packs=[]), Settings(session_idle=0.0))

    async def call() -> tuple[httpx.Response, ...]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service") as client:
            first = (await client.post("/v1/sessions")).json()["session"]
            second = (await client.post("/v1/sessions")).json()["session"]
            return (await client.get(f"/v1/sessions/{first}/findings"),
                    await client.get(f"/v1/sessions/{second}/findings"))

    try:
        gone, alive = asyncio.run(call())
    finally:
        app.state.service.shutdown()
    assert "idle" in refused(gone, 404, "MR434")["hint"]
    assert answered(alive, 200, "SessionDecisions")["decisions"] == []


def test_every_code_the_service_gives_is_in_the_problem_list() -> None:
    sources = [*(ROOT / "src" / "mentorrules" / "serving").glob("*.py"), ROOT / "src" / "mentorrules" / "model.py"]
    codes = {code for path in sources for code in re.findall(r'"(MR4[2-9][0-9])"', path.read_text("utf-8"))}
    listed = set(re.findall(r"^\| (MR[0-9]{3}) \|", (ROOT / "docs" / "problems.md").read_text("utf-8"), re.MULTILINE))
    assert codes and codes <= listed, sorted(codes - listed)
