"""The service's endpoints -> an OpenAPI 3.1 document (``GET /openapi.json``).

Written by hand, so that it says what the service does rather than what a generator guesses.
The report and the decision are the contract's own schemas (``schemas/report.schema.json``,
``schemas/decision.schema.json``), embedded under ``components/schemas`` with their ``$id``;
the other answers refer to them by that ``$id``.

    >>> from mentorrules import Engine
    >>> spec = document(Engine.load(packs=[]))
    >>> spec["openapi"], sorted(spec["paths"])[:3]
    ('3.1.0', ['/healthz', '/openapi.json', '/v1/evaluate'])
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from mentorrules import __version__

if TYPE_CHECKING:
    from mentorrules.engine import Engine

REPORT = "urn:mentorrules:schema:report"
DECISION = "urn:mentorrules:schema:decision"
_RECORD = {"$ref": f"{REPORT}#/$defs/record"}


@cache
def contract_schema(name: str) -> dict[str, Any]:
    """``schemas/<name>.schema.json`` (report, decision) as shipped with the package."""
    schema: dict[str, Any] = json.loads((files("mentorrules") / "schemas" / f"{name}.schema.json").read_text("utf-8"))
    return schema


def _answer(description: str, required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    """An answer's schema: the fields every answer has, then its own."""
    return {"type": "object", "description": description,
            "required": ["format", "mentorrules", "digest", "decision_id", *required],
            "properties": {"format": {"type": "string", "pattern": "^1\\.[0-9]+$"},
                           "mentorrules": {"type": "string"},
                           "digest": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
                           "decision_id": {"type": "string", "minLength": 1},
                           **properties}}


PROBLEM = {"type": "object", "required": ["code", "message", "location"], "additionalProperties": False,
           "properties": {"code": {"type": "string", "pattern": "^MR[0-9]{3}$"},
                          "message": {"type": "string"},
                          "location": {"type": "object", "required": ["text"],
                                       "properties": {"path": {"type": "string"}, "line": {"type": "integer"},
                                                      "column": {"type": "integer"},
                                                      "end_column": {"type": "integer"},
                                                      "row": {"type": "integer"}, "field": {"type": "string"},
                                                      "text": {"type": "string"}}},
                          "expected": {"type": "string"}, "hint": {"type": "string"}}}
SESSION_DECISIONS = {"session": {"type": "string"}, "decisions": {"type": "array", "items": _RECORD}}

# The answers besides the report and the decision: name -> JSON Schema.
ANSWERS: dict[str, dict[str, Any]] = {
    "Problems": _answer("a refused request: what is wrong, where, with its MR code (docs/problems.md)",
                        ["problems"], {"problems": {"type": "array", "items": PROBLEM, "minItems": 1}}),
    "Health": _answer("the service is up", ["status", "packs"],
                      {"status": {"const": "ok"}, "packs": {"type": "array"}}),
    "Packs": _answer("the packs loaded and the input tables they read", ["packs", "tables"],
                     {"packs": {"type": "array", "items": {
                         "type": "object", "required": ["name", "version", "jurisdiction", "rules"],
                         "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                        "jurisdiction": {"type": ["string", "null"]},
                                        "rules": {"type": "integer"}}}},
                      "tables": {"type": "object", "additionalProperties": {
                          "type": "object", "required": ["key", "columns"],
                          "properties": {"key": {"type": "array", "items": {"type": "string"}},
                                         "columns": {"type": "array", "items": {"type": "string"}}}}}}),
    "Stored": _answer("a reference row held (added or replaced)", ["table", "key", "stored"],
                      {"table": {"type": "string"}, "key": {"type": "string"}, "stored": {"const": True}}),
    "Removed": _answer("a reference row no longer held", ["table", "key", "removed"],
                       {"table": {"type": "string"}, "key": {"type": "string"}, "removed": {"const": True}}),
    "SessionOpened": _answer("a session, to post facts to", ["session", "as_of"],
                             {"session": {"type": "string"}, "as_of": {"type": "string", "format": "date"}}),
    "SessionDecisions": _answer("decisions of a session: those a change made different (the posted fact's "
                                "first), or all of them (findings)", ["session", "decisions"], SESSION_DECISIONS),
    "SessionClosed": _answer("the session and its facts are gone", ["session", "closed"],
                             {"session": {"type": "string"}, "closed": {"const": True}}),
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _operation(summary: str, answer: str, *, status: str = "200", body: dict[str, Any] | None = None,
               parameters: list[dict[str, Any]] | None = None,
               errors: tuple[str, ...] = ("400", "401")) -> dict[str, Any]:
    refusals = {"400": "bad input (MR3xx, MR431)", "401": "no or a wrong bearer token (MR433)",
                "404": "no such session or row (MR434)", "413": "body or rows over the server's bounds (MR432)",
                "415": "neither JSON nor a file upload (MR431)", "503": "the session backend is full or down (MR435)"}
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {status: {"description": summary, "content": _json(_ref(answer)),
                               "headers": {"X-Mentorrules-Digest": {"schema": {"type": "string"}},
                                           "X-Mentorrules-Decision-Id": {"schema": {"type": "string"}}}},
                      **{code: {"description": refusals[code], "content": _json(_ref("Problems"))}
                         for code in errors}}}
    if body is not None:
        operation["requestBody"] = {"required": True, "content": body}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": description}


AS_OF = {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string", "format": "date"},
         "description": "the date of rows without a date of their own (default: the server's --as-of, else today)"}
ROW = {"type": "object", "description": "a row: column -> value, as in a JSON input file",
       "additionalProperties": True}


def document(engine: Engine) -> dict[str, Any]:
    """The OpenAPI document of the service over ``engine`` (its tables named in the requests)."""
    tables = sorted(engine.tables)
    table_name = {"type": "string", "enum": tables}
    session = _path("session", "the id POST /v1/sessions gave")
    return {
        "openapi": "3.1.0",
        "info": {"title": "mentorrules", "version": __version__,
                 "description": "Teacher-mentorship stipend and grant compliance rules, over HTTP. The JSON "
                 "contract (format 1.x) and its versioning rules: docs/contract.md. Every answer carries the "
                 "policy digest and a decision id, as headers and in its JSON."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{}, {"bearer": []}],
        "paths": {
            "/healthz": {"get": {**_operation("the service is up", "Health", errors=()), "security": [{}]}},
            "/openapi.json": {"get": {"summary": "this document",
                                      "responses": {"200": {"description": "this document"}}}},
            "/v1/packs": {"get": _operation("the packs loaded, their versions and the tables they read", "Packs",
                                            errors=("401",))},
            "/v1/validate": {"post": _operation(
                "check a data set: every row, with the batch rules across rows -> the JSON report", "Report",
                body={**_json({"type": "object", "required": ["tables"], "properties": {
                    "tables": {"type": "object", "propertyNames": table_name,
                               "additionalProperties": {"type": "array", "items": ROW}},
                    "as_of": {"type": "string", "format": "date"}}}),
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "files": {"type": "array", "items": {"type": "string", "contentMediaType":
                                                             "application/octet-stream"},
                                  "description": "table files named after their table (payouts.csv, "
                                  "people.json) or workbooks with a sheet per table"},
                        "as_of": {"type": "string", "format": "date"}}}}},
                parameters=[AS_OF], errors=("400", "401", "413", "415"))},
            "/v1/evaluate": {"post": _operation(
                "check one record against the reference rows the service holds -> its decision", "Decision",
                body=_json({"type": "object", "required": ["record"], "properties": {
                    "record": ROW, "table": {**table_name, "default": "payouts"},
                    "as_of": {"type": "string", "format": "date"}}}),
                parameters=[AS_OF, {"name": "explain", "in": "query", "required": False,
                                    "schema": {"type": "boolean", "default": False},
                                    "description": "add the trace: how each rule went"}],
                errors=("400", "401", "413"))},
            "/v1/reference/{table}/{key}": {
                "put": _operation("hold a reference row (add, or replace the row with this key)", "Stored",
                                  body=_json(ROW), parameters=[_path("table", "a table: " + ", ".join(tables)),
                                                               _path("key", "the row's key")],
                                  errors=("400", "401", "413")),
                "delete": _operation("stop holding a reference row", "Removed",
                                     parameters=[_path("table", "a table"), _path("key", "the row's key")],
                                     errors=("400", "401", "404"))},
            "/v1/sessions": {"post": _operation(
                "open a session: facts posted one at a time, findings as they become derivable", "SessionOpened",
                status="201", body=_json({"type": "object", "properties": {
                    "as_of": {"type": "string", "format": "date"}}}), errors=("400", "401", "503"))},
            "/v1/sessions/{session}": {"delete": _operation("close a session", "SessionClosed",
                                                            parameters=[session], errors=("401", "404"))},
            "/v1/sessions/{session}/facts": {"post": _operation(
                "post a fact -> the decisions that changed, the posted fact's first", "SessionDecisions",
                body=_json({"type": "object", "required": ["table", "row"], "properties": {
                    "table": table_name, "row": ROW, "replace": {"type": "boolean", "default": False}}}),
                parameters=[session], errors=("400", "401", "404", "413", "503"))},
            "/v1/sessions/{session}/facts/{table}/{key}": {"delete": _operation(
                "retract every fact with this key -> the decisions that changed", "SessionDecisions",
                parameters=[session, _path("table", "a table"), _path("key", "the fact's key")],
                errors=("400", "401", "404", "503"))},
            "/v1/sessions/{session}/findings": {"get": _operation(
                "the current decision on every fact of the session", "SessionDecisions",
                parameters=[session], errors=("401", "404"))},
        },
        "components": {
            "schemas": {"Report": contract_schema("report"), "Decision": contract_schema("decision"), **ANSWERS},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "when the server runs with --token-file"}},
        },
    }
