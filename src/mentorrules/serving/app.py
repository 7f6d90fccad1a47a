"""HTTP requests -> the engine's answers as JSON: the ``mentorrules serve`` application.

A Starlette application with no magic: each endpoint reads and checks its request, then runs
the engine in a worker thread (the event loop stays free to accept and answer others) and
answers with a JSON document written by orjson. The contract is docs/contract.md; the
endpoints are listed by ``GET /openapi.json`` (``openapi.py``).

Every answer, refusals included, carries the policy digest and a decision id, both as headers
(``X-Mentorrules-Digest``, ``X-Mentorrules-Decision-Id``) and in its JSON. A refusal is a 4xx
with the problems' MR codes and locations (``{"problems": [{"code", "message", "location",
...}]}``), never a traceback; a bug is a 500 with code MR439, its traceback only in the server's
log. Requests are bounded: a body over ``max_body`` bytes or with more than ``max_rows`` rows is
refused with 413 (MR432) before any of it is checked.

    app = create_app(Engine.load(), Settings(token="s3cret", decision_log=Path("decisions.jsonl")))
    uvicorn.run(app, host="127.0.0.1", port=8000)     # what `mentorrules serve` does (server.py)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import json
import logging
import re
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mentorrules import __version__
from mentorrules.checking.codegen import MASKED
from mentorrules.engine import Engine
from mentorrules.errors import Location, MentorRulesError, Problem
from mentorrules.loading.tables import TABLE_ORDER
from mentorrules.model import FORMAT, Decision
from mentorrules.serving.context import PreparedContext, prepare
from mentorrules.serving.log import DecisionLog
from mentorrules.serving.openapi import document as openapi_document
from mentorrules.sessions.correlation import CorrelationError
from mentorrules.sessions.streaming import Session

LOGGER = logging.getLogger("mentorrules.serving")
DIGEST_HEADER = "X-Mentorrules-Digest"
ID_HEADER = "X-Mentorrules-Decision-Id"
_UPLOAD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._ -]{0,120}")


@dataclass(frozen=True)
class Settings:
    """How the service is bounded and what it writes.

    ``max_body``: bytes of one request body (413 past it); ``max_rows``: rows of one request;
    ``token``: the bearer token every request but ``/healthz`` must carry (None: no token);
    ``decision_log``: the JSON lines file of answers (None: no log); ``mask``: personal columns
    whose values no answer and no log line shows; ``as_of``: the date of rows without one, when
    a request gives none (None: today); ``session_idle``: seconds after which a session no request
    has used is closed (when the next session is opened), so that clients that go away without
    closing theirs do not fill the engine's 512 places.
    """

    max_body: int = 16 * 1024 * 1024
    max_rows: int = 100_000
    session_idle: float = 3600.0
    token: str | None = None
    decision_log: Path | None = None
    mask: tuple[str, ...] = ()
    as_of: dt.date | None = None


class Refused(Exception):
    """A request the service will not carry out: an HTTP status and the problems to show."""

    def __init__(self, status: int, problems: Iterable[Problem]) -> None:
        self.status = status
        self.problems = tuple(problems)
        super().__init__("; ".join(str(problem) for problem in self.problems))


def _refused(status: int, code: str, message: str, location: Location | None = None, *,
             expected: str | None = None, hint: str | None = None) -> Refused:
    return Refused(status, [Problem(code, message, location or Location(), expected=expected, hint=hint)])


def problem_to_dict(problem: Problem, paths: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A problem as the service's JSON shows it; ``paths`` renames files (an upload's temporary
    copy -> the name it was sent under).

    >>> problem_to_dict(Problem("MR310", "column 'amount': '1,200' is not a decimal amount",
    ...                         Location("payouts.csv", row=3, field="amount")))["location"]
    {'path': 'payouts.csv', 'row': 3, 'field': 'amount', 'text': "payouts.csv: row 3, column 'amount'"}
    """
    location = problem.location
    if paths and location.path is not None and location.path in paths:
        location = Location(paths[location.path], location.line, location.column, location.end_column,
                            location.row, location.field)
    where = {name: value for name, value in (
        ("path", location.path), ("line", location.line), ("column", location.column),
        ("end_column", location.end_column), ("row", location.row), ("field", location.field)) if value is not None}
    result: dict[str, Any] = {"code": problem.code, "message": problem.message,
                              "location": {**where, "text": str(location)}}
    if problem.expected:
        result["expected"] = problem.expected
    if problem.hint:
        result["hint"] = problem.hint
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


def _one_value_per_key(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found = dict(pairs)
    if len(found) < len(pairs):  # which value is meant? (a JSON input file makes such a row unreadable)
        names = [name for name, _ in pairs]
        raise ValueError(f"an object names {next(n for n in names if names.count(n) > 1)!r} twice")
    return found


def parse_json(body: bytes) -> Any:
    """A request body as JSON, with numbers that have a fraction as ``Decimal`` (money is never
    a float); a body that is not JSON, or names a key twice in an object, is MR431 (at its line
    and column when the JSON parser knows them).

    >>> parse_json(b'{"amount": 1000.10}')
    {'amount': Decimal('1000.10')}
    """
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_no_constant,
                          object_pairs_hook=_one_value_per_key)
    except json.JSONDecodeError as error:
        raise _refused(400, "MR431", f"the request body is not valid JSON: {error.msg}",
                       Location("<request body>", line=error.lineno, column=error.colno)) from None
    except (ValueError, RecursionError) as error:
        raise _refused(400, "MR431", f"the request body is not valid JSON: {error}",
                       Location("<request body>")) from None


@dataclass
class _Opened:
    """A session of the service: used by one request at a time (sessions are not thread-safe)."""

    session: Session
    lock: threading.Lock
    used: float  # time.monotonic() of the last request that named it


class Service:
    """The state behind the endpoints: the engine, its prepared context, open sessions, the log."""

    def __init__(self, engine: Engine, settings: Settings, context: PreparedContext | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.context = context if context is not None else prepare(engine)
        self.base = {"format": FORMAT, "mentorrules": __version__, "digest": engine.digest}
        self.log = DecisionLog(settings.decision_log) if settings.decision_log else None
        self.mask = frozenset(settings.mask)
        self._sessions: dict[str, _Opened] = {}
        self._sessions_lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    def answer(self, work: Callable[[Request, str], Awaitable[tuple[int, dict[str, Any]]]], *,
               logged: bool = True, open_: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint: authorise, run ``work``, turn every refusal or failure into a JSON answer,
        stamp the digest and a decision id, and log it."""

        async def endpoint(request: Request) -> Response:
            decision_id = str(uuid.uuid4())
            try:
                if not open_:
                    self._authorize(request)
                status, document = await work(request, decision_id)
            except Refused as refusal:
                status, document = refusal.status, {"problems": [problem_to_dict(p) for p in refusal.problems]}
            except MentorRulesError as error:
                status, document = 400, {"problems": [problem_to_dict(p) for p in error.problems]}
            except HTTPException as error:  # Starlette's own refusals: a file upload it cannot parse
                status, document = error.status_code, {"problems": [problem_to_dict(Problem(
                    "MR431", f"the request cannot be read: {error.detail}", Location("<request body>")))]}
            except CorrelationError as error:
                status, document = 503, {"problems": [problem_to_dict(Problem(
                    "MR435", f"the session backend cannot do this now: {error}", Location(),
                    hint="close sessions you no longer need, or retry later"))]}
            except Exception:
                LOGGER.exception("mentorrules serve: %s %s failed (decision %s)", request.method, request.url.path,
                                 decision_id)
                status, document = 500, {"problems": [problem_to_dict(Problem(
                    "MR439", "the service failed on this request; the server's log has the details", Location(),
                    hint=f"report it with the decision id {decision_id}"))]}
            # Written (and logged) in a worker thread: a large report is not encoded on the event loop.
            return await run_in_threadpool(self.respond, status, document, decision_id, request if logged else None)

        return endpoint

    def respond(self, status: int, document: Mapping[str, Any], decision_id: str,
                logged: Request | None = None) -> Response:
        """The answer, stamped; logged first when asked (``logged``: the request). A document may
        carry under ``"logged"`` what the log shows in its place (the row sent, masked)."""
        body = {**self.base, **document, "decision_id": decision_id}
        if logged is not None and self.log is not None:
            entry = {"decision_id": decision_id, "digest": self.engine.digest, "method": logged.method,
                     "path": logged.url.path, "http_status": status}
            shown = body.get("logged", body)
            entry.update({key: value for key, value in shown.items() if key not in self.base and key != "records"})
            if "records" in body:  # a report: its records that are not a plain pass
                entry["records"] = [record for record in body["records"] if record["status"] != "pass"]
            self.log.write(entry)
        body.pop("logged", None)
        return Response(orjson.dumps(body), status, media_type="application/json",
                        headers={DIGEST_HEADER: self.engine.digest, ID_HEADER: decision_id})

    def _authorize(self, request: Request) -> None:
        token = self.settings.token
        if token is None:
            return
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            raise _refused(401, "MR433", "this service needs a bearer token" if not given else "the token is not valid",
                           Location("<request>", field="Authorization"),
                           hint="send the header `Authorization: Bearer <token>` with the server's --token-file token")

    async def body(self, request: Request) -> bytes:
        """The request body, refused with 413 as soon as it is longer than ``max_body``."""
        limit = self.settings.max_body
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise self._too_large(f"the request body has {int(declared):,} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise self._too_large(f"the request body has more than {limit:,} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_large(self, message: str) -> Refused:
        return _refused(413, "MR432", message, Location("<request body>"),
                        expected=f"at most {self.settings.max_body:,} bytes (the server's --max-body)",
                        hint="send the data in smaller parts")

    def _rows_bounded(self, count: int) -> None:
        if count > self.settings.max_rows:
            raise _refused(413, "MR432", f"the request has {count:,} rows", Location("<request body>"),
                           expected=f"at most {self.settings.max_rows:,} rows (the server's --max-rows)",
                           hint="send the data in smaller parts")

    def as_of(self, request: Request, given: object = None) -> dt.date | None:
        """The date of rows without one: the body's ``as_of``, the query's, the server's, or None (today)."""
        text = given if given is not None else request.query_params.get("as_of")
        if text is None:
            return self.settings.as_of
        if not isinstance(text, str):
            raise _refused(400, "MR431", f"as_of is a {type(text).__name__}, not a date", Location(field="as_of"),
                           expected="a date written YYYY-MM-DD")
        try:
            return dt.date.fromisoformat(text)
        except ValueError:
            raise _refused(400, "MR431", f"as_of {text!r} is not a date", Location(field="as_of"),
                           expected="a date written YYYY-MM-DD") from None

    async def json_object(self, request: Request, required: tuple[str, ...] = ()) -> dict[str, Any]:
        """The body as a JSON object that has the ``required`` keys."""
        body = await self.body(request)
        document = parse_json(body) if body.strip() else {}
        if not isinstance(document, dict):
            raise _refused(400, "MR431", f"the request body is a JSON {type(document).__name__}, not an object",
                           Location("<request body>"), expected="a JSON object")
        missing = [name for name in required if name not in document]
        if missing:
            raise _refused(400, "MR431", f"the request body has no {', '.join(map(repr, missing))}",
                           Location("<request body>"), expected=f"an object with {', '.join(required)}")
        return document

    def _row(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _refused(400, "MR431", f"{where} is a JSON {type(value).__name__}, not an object",
                           Location("<request body>", field=where), expected="an object of column: value")
        return value

    def _masking(self, rows: Iterable[Mapping[str, Any]]) -> Callable[[Any], Any]:
        """A function that hides, in a decision's JSON, the text of the masked columns of ``rows``."""
        texts = sorted({str(row[column]).strip() for row in rows for column in self.mask
                        if row.get(column) not in (None, "") and str(row[column]).strip()}, key=len, reverse=True)

        def hide(value: Any) -> Any:
            if isinstance(value, str):
                for text in texts:
                    value = value.replace(text, MASKED)
                return value
            if isinstance(value, list):
                return [hide(item) for item in value]
            if isinstance(value, dict):
                return {key: hide(item) for key, item in value.items()}
            return value

        return hide if texts else (lambda value: value)

    def _masked_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {column: MASKED if column in self.mask and value is not None else
                value if isinstance(value, (str, int, bool)) or value is None else str(value)
                for column, value in row.items()}

    # -- endpoints -----------------------------------------------------------------------------
    async def healthz(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        return 200, {"status": "ok", "packs": [{"name": pack.name, "version": pack.version}
                                               for pack in self.engine.packs]}

    async def openapi(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        return 200, openapi_document(self.engine)

    async def packs(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        counts: dict[str, int] = {}
        for rule in self.engine.rules:
            counts[rule.pack] = counts.get(rule.pack, 0) + 1
        return 200, {
            "packs": [{"name": pack.name, "version": pack.version, "jurisdiction": pack.jurisdiction,
                       "rules": counts.get(pack.name, 0)} for pack in self.engine.packs],
            "tables": {name: {"key": list(table.key), "columns": list(table.fields)}
                       for name, table in self.engine.tables.items()}}

    async def validate(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            return await self._validate_upload(request)
        if kind not in ("application/json", ""):
            raise _refused(415, "MR431", f"POST /v1/validate takes JSON or a file upload, not {kind}",
                           Location("<request>", field="Content-Type"),
                           expected="application/json or multipart/form-data")
        document = await self.json_object(request, ("tables",))
        tables = document["tables"]
        if not isinstance(tables, dict):
            raise _refused(400, "MR431", f"tables is a JSON {type(tables).__name__}, not an object",
                           Location("<request body>", field="tables"), expected='{"payouts": [{...}], ...}')
        count = 0
        for name, rows in tables.items():
            if not isinstance(rows, list):
                raise _refused(400, "MR431", f"the rows of {name!r} are a JSON {type(rows).__name__}, not a list",
                               Location(name), expected="a list of objects, one per row")
            for number, row in enumerate(rows, start=1):
                if not isinstance(row, dict):
                    raise _refused(400, "MR431", f"row {number} of {name!r} is a JSON {type(row).__name__}, "
                                   "not an object", Location(name, row=number), expected="an object of column: value")
            count += len(rows)
        self._rows_bounded(count)
        as_of = self.as_of(request, document.get("as_of"))
        # A JSON object's keys have no order: the tables are reported in the order files are.
        tables = {name: tables[name] for name in sorted(tables, key=lambda name: (
            TABLE_ORDER.index(name) if name in TABLE_ORDER else len(TABLE_ORDER), name))}
        report = await run_in_threadpool(self.engine.validate, tables, as_of, mask=self.settings.mask or None)
        return 200, await run_in_threadpool(report.to_dict)

    async def _validate_upload(self, request: Request) -> tuple[int, dict[str, Any]]:
        body = await self.body(request)

        async def replay() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        form = await Request(request.scope, replay).form(max_files=64, max_fields=16)
        try:
            with tempfile.TemporaryDirectory(prefix="mentorrules-upload-") as folder:
                paths: dict[str, str] = {}
                for _, item in form.multi_items():
                    if not isinstance(item, UploadFile):
                        continue
                    name = Path(item.filename or "").name
                    if not _UPLOAD_NAME.fullmatch(name):
                        raise _refused(400, "MR431", f"the uploaded file name {item.filename!r} cannot be used",
                                       Location("<request body>"), hint="name each file after its table: payouts.csv")
                    if name in paths.values():
                        raise _refused(400, "MR431", f"two uploaded files are named {name!r}", Location(name))
                    path = Path(folder) / name
                    path.write_bytes(await item.read())
                    paths[str(path)] = name
                if not paths:
                    raise _refused(400, "MR431", "the upload holds no file", Location("<request body>"),
                                   hint="send the tables as files: -F files=@payouts.csv -F files=@people.csv")
                given = form.get("as_of")
                as_of = self.as_of(request, given if isinstance(given, str) else None)
                try:
                    document = await run_in_threadpool(self._validate_files, [Path(path) for path in paths], as_of)
                except MentorRulesError as error:  # said of the files as they were sent, not of their copies
                    raise Refused(400, [replace(problem, location=replace(
                        problem.location, path=paths.get(problem.location.path or "", problem.location.path)))
                        for problem in error.problems]) from None
        finally:
            await form.close()
        return 200, document

    def _validate_files(self, paths: list[Path], as_of: dt.date | None) -> dict[str, Any]:
        dataset = self.engine.read(paths, every_column=False)
        self._rows_bounded(sum(len(rows) for rows in dataset.tables.values()))
        return self.engine.validate(dataset, as_of, mask=self.settings.mask or None).to_dict()

    async def evaluate(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        document = await self.json_object(request, ("record",))
        record = self._row(document["record"], "record")
        table = document.get("table", "payouts")
        if not isinstance(table, str):
            raise _refused(400, "MR431", "table is not a text", Location("<request body>", field="table"))
        as_of = self.as_of(request, document.get("as_of"))
        explain = request.query_params.get("explain", "false").lower() in ("true", "1", "yes")
        decision = await run_in_threadpool(self.context.evaluate, record, table, as_of)
        extra = {"trace": await run_in_threadpool(decision.trace)} if explain else {}
        hide = self._masking([record])
        answer = hide(decision.document(self.engine.digest, __version__, **extra))
        return 200, {**answer, "logged": {**answer, "record": self._masked_row(record)}}

    async def put_reference(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        table, key = request.path_params["table"], request.path_params["key"]
        row = self._row(parse_json(await self.body(request)), "the row")
        found = await run_in_threadpool(self._key_of, table, row)
        if found != key:
            raise _refused(400, "MR431", f"the row's key {found!r} is not the key of the address {key!r}",
                           Location(table, field="key"), hint=f"PUT it to /v1/reference/{table}/{found}")
        await run_in_threadpool(self.context.upsert, table, row)
        return 200, {"table": table, "key": key, "stored": True,
                     "logged": {"table": table, "key": key, "stored": True, "row": self._masked_row(row)}}

    def _key_of(self, table: str, row: Mapping[str, Any]) -> str:
        return self.engine.read({table: [row]}).tables[table][0].key

    async def delete_reference(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        table, key = request.path_params["table"], request.path_params["key"]
        if not await run_in_threadpool(self.context.remove, table, key):
            raise _refused(404, "MR434", f"no {table} row with the key {key!r} is held", Location(table, field="key"))
        return 200, {"table": table, "key": key, "removed": True}

    # -- sessions -------------------------------------------------------------------------------
    async def open_session(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        document = await self.json_object(request)
        as_of = self.as_of(request, document.get("as_of"))
        await run_in_threadpool(self._close_idle)
        session = await run_in_threadpool(self.engine.session, as_of)
        name = str(uuid.uuid4())
        with self._sessions_lock:
            self._sessions[name] = _Opened(session, threading.Lock(), time.monotonic())
        return 201, {"session": name, "as_of": session.as_of.isoformat()}

    def _session(self, request: Request) -> tuple[str, Session, threading.Lock]:
        name = request.path_params["session"]
        with self._sessions_lock:
            found = self._sessions.get(name)
            if found is not None:
                found.used = time.monotonic()
        if found is None:
            raise _refused(404, "MR434", f"no open session {name!r}", Location(field="session"),
                           hint="open one with POST /v1/sessions; a closed session, or one idle for longer "
                           f"than {self.settings.session_idle:g} s, is gone")
        return name, found.session, found.lock

    def _close_idle(self) -> None:
        """Close the sessions no request has named for ``session_idle`` seconds."""
        before = time.monotonic() - self.settings.session_idle
        with self._sessions_lock:
            idle = [name for name, opened in self._sessions.items() if opened.used < before]
            closing = [self._sessions.pop(name) for name in idle]
        for opened in closing:
            with opened.lock:  # a request still using it finishes first
                opened.session.close()

    def _decisions(self, name: str, decisions: Iterable[Decision], rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        hide = self._masking(rows)
        return {"session": name, "decisions": [hide(decision.to_dict()) for decision in decisions]}

    async def post_fact(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        name, session, lock = self._session(request)
        document = await self.json_object(request, ("table", "row"))
        row = self._row(document["row"], "row")
        table, replace = document["table"], document.get("replace", False)
        if not isinstance(table, str) or not isinstance(replace, bool):
            raise _refused(400, "MR431", "table is a text and replace true or false", Location("<request body>"))

        def post() -> list[Decision]:
            with lock:
                return session.post(table, row, replace=replace)

        return 200, self._decisions(name, await run_in_threadpool(post), [row])

    async def retract_fact(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        name, session, lock = self._session(request)
        table, key = request.path_params["table"], request.path_params["key"]
        if table not in self.engine.tables:
            raise MentorRulesError([Problem("MR300", f"unknown table {table!r}", Location(),
                                            expected=", ".join(self.engine.tables))])

        def retract() -> list[Decision]:
            with lock:
                return session.retract(table, key)

        return 200, self._decisions(name, await run_in_threadpool(retract), [])

    async def findings(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        name, session, lock = self._session(request)

        def everything() -> list[Decision]:
            with lock:
                return session.findings()

        return 200, self._decisions(name, await run_in_threadpool(everything), [])

    async def close_session(self, request: Request, decision_id: str) -> tuple[int, dict[str, Any]]:
        name, session, lock = self._session(request)
        with self._sessions_lock:
            self._sessions.pop(name, None)

        def close() -> None:
            with lock:
                session.close()

        await run_in_threadpool(close)
        return 200, {"session": name, "closed": True}

    def shutdown(self) -> None:
        """Close the open sessions, the engine's session backend and the log."""
        with self._sessions_lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for opened in sessions:
            with opened.lock:
                opened.session.close()
        self.engine.close()
        if self.log is not None:
            self.log.close()


def create_app(engine: Engine, settings: Settings | None = None, context: PreparedContext | None = None) -> Starlette:
    """The service's ASGI application over a loaded engine (``mentorrules serve`` runs it on uvicorn)."""
    service = Service(engine, settings or Settings(), context)
    answer = service.answer
    routes = [
        Route("/healthz", answer(service.healthz, logged=False, open_=True), methods=["GET"]),
        Route("/openapi.json", answer(service.openapi, logged=False), methods=["GET"]),
        Route("/v1/packs", answer(service.packs, logged=False), methods=["GET"]),
        Route("/v1/validate", answer(service.validate), methods=["POST"]),
        Route("/v1/evaluate", answer(service.evaluate), methods=["POST"]),
        Route("/v1/reference/{table}/{key:path}", answer(service.put_reference), methods=["PUT"]),
        Route("/v1/reference/{table}/{key:path}", answer(service.delete_reference), methods=["DELETE"]),
        Route("/v1/sessions", answer(service.open_session), methods=["POST"]),
        Route("/v1/sessions/{session}", answer(service.close_session), methods=["DELETE"]),
        Route("/v1/sessions/{session}/facts", answer(service.post_fact), methods=["POST"]),
        Route("/v1/sessions/{session}/facts/{table}/{key:path}", answer(service.retract_fact), methods=["DELETE"]),
        Route("/v1/sessions/{session}/findings", answer(service.findings), methods=["GET"]),
    ]

    async def not_routed(request: Request, error: Exception) -> Response:
        status = error.status_code if isinstance(error, HTTPException) else 404
        message = (f"{request.method} is not an operation of {request.url.path}" if status == 405
                   else f"no endpoint {request.url.path}")
        return service.respond(status, {"problems": [problem_to_dict(Problem(
            "MR436", message, Location(request.url.path), hint="GET /openapi.json lists the endpoints"))]},
            str(uuid.uuid4()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(service.shutdown)  # after uvicorn has answered every accepted request

    app = Starlette(routes=routes, exception_handlers={404: not_routed, 405: not_routed}, lifespan=lifespan)
    app.state.service = service
    return app
