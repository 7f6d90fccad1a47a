"""YAML text -> plain values that remember the line and column of every node.

Loading is safe by construction: only the YAML core types are built (no Python objects),
anchors and aliases are refused (they make "billion laughs" files possible), duplicate keys
are an error instead of a silent overwrite, and numbers with a fraction become ``Decimal``,
never ``float``, so ``2000.00`` in a parameter file stays exactly ``Decimal('2000.00')``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from mentorrules.errors import Location, Problem

MAX_FILE_BYTES = 2_000_000
MAX_NESTING = 40  # levels of lists and mappings; rule files use 6 (rules > 0 > lookup > name > on > 0)
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# What PyYAML's constructors raise for a scalar that is not what its tag says: '!!int x'
# (ValueError), '!!bool maybe' (KeyError), '!!timestamp rules' (AttributeError).
_UNBUILDABLE = (ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError, OverflowError)
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"

JsonPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    """Where a node's text starts (and, for a scalar, ends), 1-based, and how it is written."""

    line: int
    column: int
    style: str | None = None  # None = plain, "'" or '"' quoted, "|" or ">" block
    end_line: int | None = None
    end_column: int | None = None  # just after the last character, like Location.end_column


@dataclass
class Document:
    """A loaded YAML file: its values, and the position of each value and mapping key.

    ``invalid`` holds the paths of values that could not be built (an impossible date, a tag,
    an alias); they are ``None`` in ``value`` and their problem is already reported, so later
    stages skip them and keep checking the rest of the file.
    """

    path: str
    text: str
    value: Any = None
    positions: dict[JsonPath, Position] = field(default_factory=dict)
    key_positions: dict[JsonPath, Position] = field(default_factory=dict)
    invalid: set[JsonPath] = field(default_factory=set)

    def location(self, path: JsonPath, *, key: bool = False, offset: int = 0, end: int | None = None) -> Location:
        """The location of the value (or, with ``key``, the mapping key) at ``path``.

        ``offset`` (and ``end``, exclusive) are character offsets inside a scalar's value, for
        expression errors; they are mapped back to the file through quotes, escapes (``\\"``,
        ``''``) and folded lines. Falls back to the nearest enclosing node that has a position.

        >>> document, _ = load_yaml('require: "payout.role != \\\\"a\\\\" and payout.amont > 0"\\n', "r.yaml")
        >>> value = document.value["require"]
        >>> start = value.index("payout.amont")
        >>> location = document.location(("require",), offset=start, end=start + len("payout.amont"))
        >>> location.column, location.end_column
        (36, 48)
        """
        table = self.key_positions if key else self.positions
        probe = path
        while probe not in table and probe:
            probe = probe[:-1]
            table = self.positions
        position = table.get(probe)
        if position is None:
            return Location(self.path, line=1, column=1)
        block = position.style in ("|", ">")  # its value starts on the line after the indicator
        if key or probe != path or (offset == 0 and end is None and not block):
            # The whole node, spanned when it is on one line (not an enclosing node's span).
            spans = probe == path and position.end_line == position.line
            return Location(self.path, line=position.line, column=position.column,
                            end_column=position.end_column if spans else None)
        lines = self.text.splitlines()
        line, column = _advance(lines, position, offset)
        end_column = None
        if end is not None:
            end_line, end_column = _advance(lines, position, end)
            end_column = end_column if end_line == line and end_column > column else None
        return Location(self.path, line=line, column=column, end_column=end_column)


def _advance(lines: list[str], position: Position, offset: int) -> tuple[int, int]:
    """Line and column (1-based) of the character ``offset`` characters into a scalar's value.

    In a folded block (``>``) two text lines are joined by one space, and k empty lines
    between them are k line breaks, unless a line is more indented (its breaks are kept):

    >>> lines = ["require: >-", "  0", "", "  `"]
    >>> _advance(lines, Position(1, 10, ">"), 2), _advance(lines, Position(1, 10, "|"), 3)
    ((4, 3), (4, 3))
    """
    if position.style in ("|", ">"):
        return _advance_block(lines, position, offset)
    return _advance_flow(lines, position, offset)


def _advance_block(lines: list[str], position: Position, offset: int) -> tuple[int, int]:
    """The same for a block scalar, whose value starts on the line after its indicator; the
    block's indentation is that of its first line with text, and deeper indentation of later
    lines is part of the value."""
    first = position.line  # 0-based index of the line after the indicator
    while first < len(lines) and not lines[first].strip():
        first += 1
    if first >= len(lines):
        return position.line, position.column
    indent = len(lines[first]) - len(lines[first].lstrip(" "))
    folded = position.style == ">"
    remaining, empty, previous = offset, 0, -1  # previous: the row of the last line with text
    for row in range(position.line, len(lines)):
        line = lines[row]
        if not line.strip() and len(line) <= indent:
            empty += 1
            continue
        body = line[indent:]
        if previous < 0:
            between = empty  # leading empty lines are line breaks of the value
        elif folded and not body[:1].isspace() and not lines[previous][indent:indent + 1].isspace():
            between = empty or 1  # folded: one space, or the empty lines' breaks
        else:
            between = empty + 1
        if remaining < between:  # a line break between two lines: the end of the first
            return (previous + 1, len(lines[previous]) + 1) if previous >= 0 else (row + 1, indent + 1)
        remaining -= between
        if remaining <= len(body):
            return row + 1, indent + remaining + 1
        remaining -= len(body)
        previous, empty = row, 0
    return position.line, position.column


def _advance_flow(lines: list[str], position: Position, offset: int) -> tuple[int, int]:
    """The same for a plain or quoted scalar: walk its source text, counting one value
    character per escape (``\\"``, ``\\x41``), per doubled quote (``''``) and per folded line
    break (a line break and the spaces around it are one space in the value)."""
    style = position.style
    row, column = position.line - 1, position.column - 1 + (1 if style in ("'", '"') else 0)
    remaining = offset
    while row < len(lines):
        line = lines[row]
        escaped = style == '"' and line[column:].rstrip() == "\\"
        if remaining == 0 and not escaped:
            return row + 1, column + 1
        if not line[column:].strip() or escaped:
            # The end of a line inside the value: it folds into one space (or, before blank
            # lines, one line break per blank line); an escaped line break folds into nothing.
            here, blank = row, 0
            row += 1
            while row < len(lines) and not lines[row].strip():
                row, blank = row + 1, blank + 1
            folded = 0 if escaped else max(blank, 1)
            if row >= len(lines) or remaining < folded:
                return here + 1, len(line.rstrip()) + 1
            remaining -= folded
            column = len(lines[row]) - len(lines[row].lstrip(" \t"))
            continue
        character = line[column]
        if style == '"' and character == "\\":
            column += {"x": 4, "u": 6, "U": 10}.get(line[column + 1: column + 2], 2)
        elif style == "'" and line[column: column + 2] == "''":
            column += 2
        else:
            column += 1
        remaining -= 1
    return position.line, position.column


def read_text(path: Path) -> tuple[str | None, Problem | None]:
    """Read a UTF-8 text file, or say why it cannot be read."""
    where = Location(str(path))
    try:
        raw = path.read_bytes()
    except OSError as error:
        return None, Problem("MR101", f"cannot read the file: {error.strerror}", where)
    if len(raw) > MAX_FILE_BYTES:
        return None, Problem("MR101", f"the file is {len(raw):,} bytes, larger than the limit",
                             where, expected=f"at most {MAX_FILE_BYTES:,} bytes")
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        return None, Problem("MR101", f"the file is not UTF-8 (byte {error.start})", where,
                             hint="save the file as UTF-8")


def load_yaml(text: str, path: str) -> tuple[Document, list[Problem]]:
    """Parse YAML text into a :class:`Document`, with every problem found.

    >>> document, problems = load_yaml("cap: 2000.00\\nwhen: 2016-07-01\\n", "p.yaml")
    >>> document.value
    {'cap': Decimal('2000.00'), 'when': datetime.date(2016, 7, 1)}
    >>> document.location(("when",))
    Location(path='p.yaml', line=2, column=7, end_column=17, row=None, field=None)
    >>> load_yaml("on: yes\\n", "k.yaml")[0].value
    {'on': True}
    >>> load_yaml("a: 1\\na: 2\\n", "d.yaml")[1][0].message
    "duplicate key 'a' (first on line 1)"
    """
    document = Document(path, text)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        return document, [_syntax_error(error, text, path)]
    except yaml.reader.ReaderError as error:
        # Unprintable characters (a NUL byte, say) are reported by offset, not by line.
        before = _LINE_BREAK.split(text[: error.position])
        where = Location(path, line=len(before), column=len(before[-1]) + 1)
        return document, [Problem("MR100", f"the character {chr(error.character)!r} is not allowed in YAML",
                                  where, hint="remove it; rule files are plain UTF-8 text")]
    except yaml.YAMLError as error:
        return document, [Problem("MR100", f"YAML error: {type(error).__name__}", Location(path, line=1, column=1))]
    except RecursionError:  # the pure-Python parser (without LibYAML) recurses per level
        return document, [_too_deep(Location(path, line=1, column=1))]
    builder = _Builder(document)
    document.value = builder.build(node, ()) if node is not None else None
    return document, builder.problems


class _Builder:
    """Turns a composed YAML node tree into plain values, recording positions."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Problem] = []
        self.seen: set[int] = set()
        self.too_deep = False
        self.constructor = yaml.SafeLoader("")

    def where(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.document.path, line=mark.line + 1, column=mark.column + 1)

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        if id(node) in self.seen:
            self.problems.append(Problem(
                "MR102", "anchors and aliases (&name, *name) are not allowed", self.where(node),
                hint="write the value out where it is used"))
            self.document.invalid.add(path)
            return None
        self.seen.add(id(node))
        mark = node.start_mark
        if len(path) > MAX_NESTING and isinstance(node, yaml.MappingNode | yaml.SequenceNode):
            # LibYAML accepts 1,000 levels; building and schema-checking them would exhaust Python's stack.
            if not self.too_deep:
                self.problems.append(_too_deep(self.where(node)))
                self.too_deep = True
            self.document.invalid.add(path)
            return None
        style = getattr(node, "style", None)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in (_MAP, _SEQ):
            self.problems.append(Problem(
                "MR102", f"the tag {node.tag!r} is not allowed", self.where(node),
                expected="plain YAML values: text, numbers, booleans, dates, lists and mappings"))
            self.document.invalid.add(path)
            return None
        end_mark = node.end_mark
        self.document.positions[path] = Position(mark.line + 1, mark.column + 1, style,
                                                 end_mark.line + 1, end_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        count = len(self.problems)
        value = self.scalar(node)
        if len(self.problems) > count:
            self.document.invalid.add(path)
        return value

    def mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem("MR102", "a mapping key must be a plain value",
                                             self.where(key_node)))
                continue
            # Keys are text (YAML 1.1 would read `on:` or `no:` as booleans), except dates,
            # which key the dated values of parameters. A key that looks like a date but is not
            # one (2024-13-01) stays text, for the schema to locate as "not a valid date".
            key = self._date_key(key_node) if key_node.tag == _TIMESTAMP else key_node.value
            line = key_node.start_mark.line + 1
            if key in result:
                self.problems.append(Problem(
                    "MR103", f"duplicate key {_key_text(key)!r} (first on line {first_line[key]})",
                    self.where(key_node), hint="remove or rename one of them"))
                continue
            first_line[key] = line
            child: JsonPath = (*path, _key_text(key))
            self.document.key_positions[child] = Position(line, key_node.start_mark.column + 1, None,
                                                          key_node.end_mark.line + 1, key_node.end_mark.column + 1)
            result[key] = self.build(value_node, child)
        return result

    def _date_key(self, node: yaml.ScalarNode) -> Any:
        try:
            value = self.constructor.construct_yaml_timestamp(node)
        except _UNBUILDABLE:
            return node.value
        return value.date() if isinstance(value, dt.datetime) else value

    def scalar(self, node: yaml.ScalarNode) -> Any:
        tag, text = node.tag, node.value
        try:
            if tag == _STR:
                return text
            if tag == _NULL:
                return None
            if tag == _BOOL:
                return self.constructor.construct_yaml_bool(node)
            if tag == _INT:
                return self.integer(node)
            if tag == _FLOAT:
                return self.decimal(node)
            if tag == _TIMESTAMP:
                value = self.constructor.construct_yaml_timestamp(node)
                return value.date() if isinstance(value, dt.datetime) else value
        except _UNBUILDABLE:
            self.problems.append(Problem("MR104", f"{text!r} is not a valid value", self.where(node)))
            return None
        self.problems.append(Problem(
            "MR102", f"the tag {tag!r} is not allowed", self.where(node),
            expected="plain YAML values: text, numbers, booleans, dates, lists and mappings"))
        return None

    def integer(self, node: yaml.ScalarNode) -> int | None:
        """A whole number of at most 18 digits. Longer ones (4,000 digits cost a quadratic
        conversion and cannot be shown) and base-60 ``1:30:00`` (YAML 1.1, quadratic in PyYAML)
        are refused before PyYAML converts them."""
        text = str(node.value)
        if ":" in text:
            self.problems.append(Problem("MR104", f"{_cut(text)!r} is a base-60 number (YAML 1.1), not allowed",
                                        self.where(node), expected="a plain number, or text in quotes",
                                        hint=f"write '{_cut(text)}' in quotes if it is text"))
            return None
        if sum(character.isalnum() for character in text) > 20:  # 18 digits, or 0x and 16 hex digits
            self.problems.append(Problem("MR104", f"the number {_cut(text)!r} is too long", self.where(node),
                                        expected="a whole number of at most 18 digits"))
            return None
        value: int = self.constructor.construct_yaml_int(node)
        return value

    def decimal(self, node: yaml.ScalarNode) -> Decimal | None:
        text = str(node.value).replace("_", "")
        try:
            value = Decimal(text)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite():
            self.problems.append(Problem("MR104", f"{_cut(node.value)!r} is not a finite number",
                                        self.where(node), expected="a number such as 2000.00"))
            return None
        digits, exponent = len(value.as_tuple().digits), value.as_tuple().exponent
        if digits > 30 or not -12 <= int(exponent) <= 18:  # 1e999999999 would be shown with all its digits
            self.problems.append(Problem("MR104", f"the number {_cut(node.value)!r} is too long or too large",
                                        self.where(node),
                                        expected="at most 18 digits before the point and 12 after it"))
            return None
        return value


def _cut(text: object, limit: int = 40) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's line breaks


def _in_text(text: str, line: int, column: int) -> tuple[int, int]:
    """A parser's mark, kept inside the text: at the end of a file without a final line break
    LibYAML marks the line after the last, which no editor can show.

    >>> _in_text("a: [1\\n- ", 3, 1)
    (2, 3)
    """
    lines = _LINE_BREAK.split(text)
    if line > len(lines):
        return len(lines), len(lines[-1]) + 1
    return line, column


_OPENED = {  # what a parser's context says was left open -> (its name, how it is closed)
    "while parsing a flow mapping": ("mapping", "}"),
    "while parsing a flow sequence": ("list", "]"),
}


def _syntax_error(error: yaml.MarkedYAMLError, text: str, path: str) -> Problem:
    """A YAML syntax error, located where the mistake most likely is.

    The parser notices an unclosed quote, ``{`` or ``[`` only where the file (or the line)
    goes on without it, often at the end of the file; its ``context_mark`` is where the
    quote or bracket opened, which is where the fix goes. The parser's own words are kept
    after the message, with the place where it stopped.

    >>> def first(text):
    ...     problem = load_yaml(text, "f.yaml")[1][0]
    ...     print(problem.location, problem.message.replace(" (YAML", "\\n  (YAML"))
    >>> first('a: 1\\nb: "text\\n')
    f.yaml:2:4 the quoted text opened here with '"' is never closed
      (YAML: found unexpected end of stream)
    >>> first("a: {b: 1\\nc: 2\\n")
    f.yaml:1:4 the mapping opened here with '{' is never closed
      (YAML: did not find expected ',' or '}' at line 2, column 2)
    >>> first("a: [1, 2}\\n")
    f.yaml:1:9 a ',' or ']' is missing here, in the list opened with '[' at column 4
      (YAML: did not find expected ',' or ']')
    """
    problem_mark, context_mark = error.problem_mark, error.context_mark
    what = error.problem or error.context or "not valid YAML"

    def located(mark: Any) -> Location:
        return Location(path, *_in_text(text, mark.line + 1, mark.column + 1)) if mark else Location(path)

    def at(mark: Any) -> str:
        if not text[mark.index:].strip():  # "end of stream" says where already
            return ""
        line, column = _in_text(text, mark.line + 1, mark.column + 1)
        return f" at line {line}, column {column}"

    context = error.context or ""
    if context_mark is not None and problem_mark is not None:
        start = located(context_mark)  # the caret marks the one character that opened it
        opened = Location(path, start.line, start.column, end_column=(start.column or 1) + 1)
        if context == "while scanning a quoted scalar":
            quote = _character_at(text, context_mark)
            quote = quote if quote in ("'", '"') else '"'
            inside = "\\\"" if quote == '"' else "''"
            return Problem("MR100", f"the quoted text opened here with {quote!r} is never closed "
                           f"(YAML: {what}{at(problem_mark)})", opened,
                           expected=f"a closing {quote!r}",
                           hint=f"add the closing {quote} where the text ends; a {quote} inside the text "
                           f"is written {inside}")
        if context in _OPENED:
            name, closing = _OPENED[context]
            opening = "{" if closing == "}" else "["
            if problem_mark.line == context_mark.line:  # on one line: a missing ',' or a stray character
                return Problem("MR100", f"a ',' or {closing!r} is missing here, in the {name} opened with "
                               f"{opening!r} at column {context_mark.column + 1} (YAML: {what})", located(problem_mark),
                               expected=f"',' between its entries, or {closing!r} to close it",
                               hint=f"separate the entries with ',' and end the {name} with {closing}")
            return Problem("MR100", f"the {name} opened here with {opening!r} is never closed "
                           f"(YAML: {what}{at(problem_mark)})", opened,
                           expected=f"{closing!r} at its end, and ',' between its entries",
                           hint=f"add the closing {closing}, or write the {name} in block style, one entry a line")
        if context == "while scanning a simple key":
            return Problem("MR100", f"this key is not followed by ':' (YAML: {what}{at(problem_mark)})",
                           opened, expected="key: value",
                           hint="add ':' after the key; a value that goes on from the line above is "
                           "indented more than its key")
    runaway = _runaway_quote(error, text)
    if runaway is not None and problem_mark is not None:  # a quote left open until a later quote closed it by mistake
        start, quote = runaway
        return Problem("MR100", f"the quoted text opened here with {quote!r} runs on to line "
                       f"{problem_mark.line + 1}, where YAML stops (YAML: {what}{at(problem_mark)})",
                       Location(path, start.line + 1, start.column + 1, end_column=start.column + 2),
                       expected=f"a closing {quote!r} on line {start.line + 1}",
                       hint=f"add the closing {quote} where the text ends; text that goes on over "
                       "several lines is clearer as a block (| or >)")
    unclosed = _unclosed_flow(text) if problem_mark is not None and not text[problem_mark.index:].strip() else None
    if unclosed is not None:  # the file ends inside a { or [ that the parser's context does not name
        name, closing = ("mapping", "}") if isinstance(unclosed, yaml.FlowMappingStartToken) else ("list", "]")
        start = located(unclosed.start_mark)
        return Problem("MR100", f"the {name} opened here with {'{' if closing == '}' else '['!r} is never closed "
                       f"(YAML: {what})", Location(path, start.line, start.column,
                                                   end_column=(start.column or 1) + 1),
                       expected=f"{closing!r} at its end, and ',' between its entries",
                       hint=f"add the closing {closing}, or write the {name} in block style, one entry a line")
    return Problem("MR100", f"YAML syntax error: {what}", located(problem_mark or context_mark),
                   hint="check indentation, colons and quotes on this line")


def _unclosed_flow(text: str) -> Any | None:
    """The token of the last ``{`` or ``[`` not closed before the text ends (or stops scanning).

    >>> _unclosed_flow("a: {b: [1, 2], c: 3").start_mark.column
    3
    """
    opened: list[Any] = []
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)):
                opened.append(token)
            elif isinstance(token, (yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)) and opened:
                opened.pop()
    except yaml.YAMLError:
        pass
    return opened[-1] if opened else None


def _character_at(text: str, mark: Any) -> str:
    lines = _LINE_BREAK.split(text)
    if mark.line < len(lines) and mark.column < len(lines[mark.line]):
        return str(lines[mark.line][mark.column])
    return ""


def _runaway_quote(error: yaml.MarkedYAMLError, text: str) -> tuple[Any, str] | None:
    """Where a quoted text opened (its mark) and its quote, when it ran on over line breaks up
    to the quote just before a parser error: an unclosed quote that a later quote closed.

    >>> problem = load_yaml('a: "one\\nb: "two"\\n', "r.yaml")[1][0]
    >>> print(problem.location, problem.message.replace(" (YAML", "\\n  (YAML"))
    r.yaml:1:4 the quoted text opened here with '"' runs on to line 2, where YAML stops
      (YAML: did not find expected key at line 2, column 5)
    """
    mark = error.problem_mark
    if mark is None or not isinstance(error, yaml.parser.ParserError):
        return None
    last = None
    try:
        for token in yaml.scan(text, Loader=_Loader):
            if token.end_mark.index > mark.index:
                break
            last = token
    except yaml.YAMLError:
        pass
    if (isinstance(last, yaml.ScalarToken) and last.style in ("'", '"')
            and last.start_mark.line < last.end_mark.line == mark.line):
        return last.start_mark, str(last.style)
    return None


def _too_deep(where: Location) -> Problem:
    return Problem("MR100", f"the file is nested more than {MAX_NESTING} levels deep", where,
                   hint="rule and parameter files need a few levels of lists and mappings")


def _key_text(key: Any) -> str:
    return key.isoformat() if isinstance(key, dt.date) else str(key)


def to_json_like(value: Any) -> Any:
    """The value as JSON Schema sees it: dates become ISO text, mapping keys text.

    >>> to_json_like({dt.date(2016, 7, 1): [dt.date(2017, 1, 2)]})
    {'2016-07-01': ['2017-01-02']}
    """
    if isinstance(value, dict):
        return {_key_text(key): to_json_like(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json_like(item) for item in value]
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
