"""Loaded documents -> JSON Schema problems, each at the line and column of the offending node.

The schemas in ``schemas/`` are the contract for authors (editors read them through the
``# yaml-language-server: $schema=...`` line) and for this checker; nothing else restates them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Any, cast

from jsonschema import Draft202012Validator, ValidationError, validators
from referencing import Registry, Resource

from mentorrules.errors import Problem, did_you_mean, one_of
from mentorrules.located import Document, JsonPath, to_json_like

RULES, PARAMETERS, TESTS = "rules", "parameters", "tests"


@cache
def _registry() -> Registry[Any]:
    root = files("mentorrules") / "schemas"
    resources = []
    for name in (RULES, PARAMETERS, TESTS):
        contents = json.loads((root / f"{name}.schema.json").read_text("utf-8"))
        resources.append((f"{name}.schema.json", Resource.from_contents(contents)))
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


def _pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Iterator[ValidationError]:
    """``pattern`` as JSON Schema (ECMA-262) means it: ``$`` is the end of the text.

    Python's ``$`` also matches before a final line break, so a rule id ``"NM-001\\n"`` passed
    ``^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$`` and reached the generated code.

    >>> [error.message for error in _Validator({"pattern": "^[A-Z]+-1$"}).iter_errors("NM-1\\n")]
    ["'NM-1\\\\n' does not match '^[A-Z]+-1$'"]
    """
    if not validator.is_type(instance, "string"):
        return
    found = re.search(pattern, instance)
    if found is None or (pattern.endswith("$") and not pattern.endswith("\\$") and found.end() != len(instance)):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


_extend: Any = validators.extend  # untyped in jsonschema
_Validator: Any = _extend(Draft202012Validator, {"pattern": _pattern})


@cache
def validator(name: str) -> Any:
    """The validator for one of the file schemas (``rules``, ``parameters``, ``tests``)."""
    contents = _registry().get_or_retrieve(f"{name}.schema.json").value.contents
    return _Validator(contents, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def check(document: Document, name: str) -> list[Problem]:
    """Every schema violation of ``document``, located, most specific first per node.

    >>> from mentorrules.located import load_yaml
    >>> document, _ = load_yaml("rules:\\n  - id: X-1\\n    titel: t\\n", "r.yaml")
    >>> problem = check(document, "rules")[0]
    >>> str(problem.location), problem.code, problem.message, problem.hint
    ('r.yaml:3:5', 'MR111', "unknown field 'titel'", "did you mean 'title'?")
    """
    return [problem for _, problem in violations(document, name)]


def violations(document: Document, name: str) -> list[tuple[JsonPath, Problem]]:
    """Like :func:`check`, with the path of the node each problem is about, so that a caller
    can skip what is broken (one rule, one parameter) and go on checking the rest.

    Values the loader could not build (``document.invalid``) are already reported: nothing is
    said again about them or below them.
    """
    instance = to_json_like(document.value)
    found: list[tuple[JsonPath, Problem]] = []
    seen: set[tuple[int | None, int | None, str]] = set()
    for error in sorted(validator(name).iter_errors(instance), key=_error_order):
        error = _most_specific(error)
        path = tuple(error.absolute_path)
        if any(path[:len(bad)] == bad for bad in document.invalid):
            continue
        for problem in _problems(document, error):
            marker = (problem.location.line, problem.location.column, problem.message)
            if marker not in seen:
                seen.add(marker)
                found.append((path, problem))
    return found


def _error_order(error: ValidationError) -> tuple[str, ...]:
    return tuple(str(part) for part in error.absolute_path)


def _most_specific(error: ValidationError) -> ValidationError:
    """For anyOf/oneOf, the branch error that went deepest is the one worth showing."""
    if error.validator in ("anyOf", "oneOf") and error.context:
        deepest = max(error.context, key=lambda child: (len(child.absolute_path), -len(child.message)))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return _most_specific(deepest)
    return error


def _problems(document: Document, error: ValidationError) -> list[Problem]:
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(schema.get("properties", {}))
        extra = [key for key in error.instance if key not in allowed]
        return [Problem("MR111", f"unknown field {key!r}", document.location((*path, key), key=True),
                        expected=one_of(allowed) if allowed else None,
                        hint=did_you_mean(key, allowed)) for key in extra]
    where = document.location(path)
    if _is_key_of(document, path, error.instance):
        # A rule about names (propertyNames, a date format for keys) fails on the key itself.
        where = document.location((*path, str(error.instance)), key=True)
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else "?"
        return [Problem("MR112", f"missing field {missing!r}", where,
                        hint=f"add '{missing}:' to this entry")]
    if kind == "enum":
        options = [str(option) for option in cast(list[Any], error.validator_value)]
        return [Problem("MR113", f"{_describe(error.instance)} is not allowed here", where,
                        expected=one_of(options), hint=did_you_mean(str(error.instance), options))]
    if kind == "type":
        wanted = error.validator_value
        wanted_text = " or ".join(wanted) if isinstance(wanted, list) else str(wanted)
        return [Problem("MR114", f"{_describe(error.instance)} is the wrong kind of value", where,
                        expected=_plain_type(wanted_text))]
    if kind == "pattern":
        return [Problem("MR115", f"{_describe(error.instance)} does not have the required form", where,
                        expected=schema.get("description") or f"text matching {error.validator_value}")]
    if kind == "format":
        return [Problem("MR116", f"{_describe(error.instance)} is not a valid {error.validator_value}", where,
                        expected="a date written YYYY-MM-DD" if error.validator_value == "date" else None)]
    if kind == "propertyNames":
        return [Problem("MR117", f"{_describe(error.instance)} is not a valid name here", where,
                        expected=_property_name_rule(schema))]
    if kind in ("minItems", "minProperties", "minLength"):
        return [Problem("MR118", "this must not be empty", where)]
    if kind in ("maxLength", "maxItems"):
        return [Problem("MR119", "this value is too long", where,
                        expected=f"at most {error.validator_value} characters")]
    return [Problem("MR110", f"{_describe(error.instance)} is not valid here", where,
                    expected=schema.get("description"))]


def _is_key_of(document: Document, path: tuple[Any, ...], instance: Any) -> bool:
    target: Any = document.value
    for part in path:
        if isinstance(target, dict):
            target = next((value for key, value in target.items() if _key(key) == part), None)
        elif isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        else:
            return False
    return isinstance(target, dict) and isinstance(instance, str) and instance in {_key(key) for key in target}


def _key(key: Any) -> str:
    return to_json_like({key: 0}).popitem()[0]  # type: ignore[no-any-return]


def _property_name_rule(schema: dict[str, Any]) -> str:
    rule = schema.get("propertyNames", {})
    if "format" in rule:
        return "a date written YYYY-MM-DD"
    if "enum" in rule:
        return one_of(rule["enum"])
    return "lower-case letters, digits and underscores, starting with a letter"


def _plain_type(name: str) -> str:
    return (name.replace("object", "a mapping (key: value)").replace("array", "a list")
            .replace("string", "text").replace("integer", "a whole number"))


def _describe(value: Any, limit: int = 40) -> str:
    """A value as a message names it: short values as written, long text cut and measured.

    A message never embeds a whole file (a CSV given as a rule file is one long text).

    >>> _describe("fatal"), _describe(None)
    ("'fatal'", 'an empty value')
    >>> _describe("payout_id,payee_id,role," * 200)
    "'payout_id,payee_id,role,payou...' (a text of 4,800 characters)"
    """
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "an empty value"
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit - 10] + '...'!r} (a text of {len(value):,} characters)"
    return repr(value)
