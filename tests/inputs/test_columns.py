"""The columnar CSV reader gives, row by row, what the reference reader gives: the same numbers,
values (types and decimal places included), problems, keys and lines; or it declines (None)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import generated_data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mentorrules.inputs import columns as columns_module
from mentorrules.inputs.columns import WHITESPACE, TableColumns, csv_columns
from mentorrules.inputs.reading import Row, Rows, RowTyper, _csv_typed, table_of
from mentorrules.loading.tables import Table, contract

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TABLES = contract()


def exact(value: Any) -> Any:
    """A value with its type, so that 1.50 and 1.5, or "1" and 1, differ."""
    if isinstance(value, list):
        return ("list", tuple(exact(item) for item in value))
    return (type(value).__name__, repr(value))


def shown(row: Row) -> tuple[Any, ...]:
    return (row.number, tuple(exact(value) for value in row.values.values()), row.problems, row.key, row.line)


def reference(path: Path, table: Table, kept: Collection[str] | None) -> list[Row]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(_csv_typed(RowTyper(table, str(path), kept), handle))


def rebuilt(read: TableColumns) -> list[Row]:
    """The rows of the columns, one by one, without TableColumns.rows()."""
    table, frame = read.table, read.frame
    readable = iter(frame.iter_rows(named=True))
    keys, lines = read.keys.to_list(), read.lines.to_list()
    rows = []
    for number in range(1, read.count + 1):
        if number in read.unreadable:
            rows.append(read.unreadable[number])
            continue
        cells = next(readable)
        assert cells["__row"] == number
        values = {}
        for name, kind in table.fields.items():
            if kind == "decimal" and name in cells:
                text = cells[f"{name}.__text"]
                values[name] = None if text is None else Decimal(text)
                assert values[name] == cells[name]  # the Decimal column holds the same amount
            else:
                values[name] = cells.get(name)
        record = table.record_of(values)
        assert keys[number - 1] == table.key_of(record)
        rows.append(Row(number, record, (), keys[number - 1], lines[number - 1]))
    assert next(readable, None) is None
    return rows


def same(path: Path, table: Table, kept: Collection[str] | None = None, *, sure: bool = False) -> TableColumns | None:
    """csv_columns agrees with the reference on ``path`` row by row (or declined, unless ``sure``)."""
    read = csv_columns(path, table, str(path), kept)
    if read is None:
        assert not sure, "csv_columns declined a plain file"
        return None
    expected = reference(path, table, kept)
    assert read.count == len(expected)
    assert read.keys.len() == read.lines.len() == read.count
    assert read.keys.dtype == pl.String and read.lines.dtype == pl.Int64
    assert [shown(row) for row in rebuilt(read)] == [shown(row) for row in expected]
    assert set(read.unreadable) == {row.number for row in expected if row.problems}
    assert read.lines.to_list() == [row.line for row in expected]
    held, wanted = read.rows(), Rows(table, expected)
    assert [shown(row) for row in held] == [shown(row) for row in wanted]
    assert (held.lines.starts, held.lines.offsets) == (wanted.lines.starts, wanted.lines.offsets)
    assert held.problems == wanted.problems
    kinds = {"text": pl.String, "integer": pl.Int64, "date": pl.Date, "boolean": pl.Boolean,
             "list": pl.List(pl.String)}
    assert read.frame.columns[0] == "__row"
    for name, kind in table.fields.items():
        if kept is not None and name not in kept and name not in table.key:
            assert name not in read.frame.columns
        elif kind == "decimal":
            assert isinstance(read.frame.schema[name], pl.Decimal)
            assert read.frame.schema[f"{name}.__text"] == pl.String
            places = [-Decimal(t).as_tuple().exponent for t in read.frame[f"{name}.__text"].drop_nulls()]
            assert read.frame.schema[name].scale == max([0, *places])  # type: ignore[union-attr]
        else:
            assert read.frame.schema[name] == kinds[kind]
    return read


# -- the whitespace ------------------------------------------------------------------------------
def test_the_whitespace_is_what_str_strip_removes() -> None:
    assert set(WHITESPACE) == {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    text = pl.Series(["".join(WHITESPACE) + "a" + "".join(WHITESPACE), "\u200bb\u200b"])
    assert text.str.strip_chars(WHITESPACE).to_list() == [t.strip() for t in text.to_list()]


def test_polars_own_strip_is_str_strip_but_the_information_separators() -> None:
    """A chunk without \\x1c-\\x1f is stripped by Polars' own (faster) strip: it must be str.strip()."""
    characters = [chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF]
    cells = [f"{c}{c}a{c}" for c in characters]
    stripped = pl.Series(cells).str.strip_chars().to_list()
    differ = {c for c, cell, polars in zip(characters, cells, stripped, strict=True) if cell.strip() != polars}
    assert differ == {"\x1c", "\x1d", "\x1e", "\x1f"}


@given(st.binary(max_size=60).map(lambda raw: raw.replace(b"\x00", b"\n")), st.integers(1, 20))
@settings(max_examples=500, deadline=None, derandomize=True, database=None)
def test_a_long_line_is_found_by_its_windows(raw: bytes, limit: int) -> None:
    assert columns_module._long_line(raw, limit) == (max(map(len, raw.split(b"\n"))) > limit)


# -- real files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.csv")), ids=lambda path: path.name)
def test_the_examples(path: Path) -> None:
    table = TABLES[table_of(path, TABLES) or ""]
    same(path, table, sure=True)
    same(path, table, kept=(), sure=True)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generated_data(tmp_path_factory.mktemp("world"), payouts=2000, seed=5, violations=0.05)


@pytest.mark.parametrize("name", ["payouts", "people", "pairings", "attendance", "districts", "grants",
                                  "contributions"])
@pytest.mark.parametrize("chunk", [1 << 24, 4096])
def test_a_generated_world(world: Path, name: str, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns_module, "CHUNK", chunk)
    if chunk < 1 << 16:  # many chunks, and what was learnt of a column's cells forgotten often
        monkeypatch.setattr(columns_module, "_REMEMBERED", 5)
        monkeypatch.setattr(columns_module, "_SLICE", 7)  # rows() makes records a few at a time
    table = TABLES[name]
    kept = [field for position, field in enumerate(table.fields) if position % 2]
    same(world / f"{name}.csv", table, sure=True)
    same(world / f"{name}.csv", table, kept=kept, sure=True)


def test_interned_ids_are_one_object_per_id(world: Path) -> None:
    """As the reference interns the ids that link tables, so do the rows made from columns."""
    for name, column in [("people", "person_id"), ("payouts", "payee_id")]:
        read = csv_columns(world / f"{name}.csv", TABLES[name], name, interned={column})
        assert read is not None
        values = [row.values[column] for row in read.rows() if row.values[column] is not None]
        assert values and all(sys.intern(value) is value for value in values)


# -- cases written out ---------------------------------------------------------------------------
HEADER = "payout_id,payee_id,role,school_year,pay_date,amount,installment,accrual,unknown"


def write(tmp_path: Path, text: str, *, name: str = "payouts.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_bad_cells_blank_lines_and_ragged_rows(tmp_path: Path) -> None:
    text = "\r\n".join([
        HEADER,
        "P-1, T-1 ,mentor,2025-26,2025-09-15,1000.00,1,true,x",
        "",
        "P-2,T-2,mentee,2025-2026,2025-02-30,1.5e3,one,maybe,",  # every kind of bad cell
        "P-3,T-3,mentor,2025-26,2025-09-15,0.0000001,+2,YES,",
        "P-4,T-4,mentor",  # too few cells
        "P-5,T-5,mentor,2025-26,2025-09-15,2.5,2,no,,extra",  # too many
        "\u3000P-6\xa0,T-6\x1c,é,2025-26, 2025-09-15 ,-0.00,-0,0,",
        ",,,,,,,,",
        "P-1,T-1,mentor,2025-26,2025-09-15,007.10,3,f,",  # a repeated key is the engine's business
        "",
    ]) + "\r\n"
    path = write(tmp_path, text, bom=True)
    read = same(path, TABLES["payouts"], sure=True)
    assert read is not None
    assert sorted(read.unreadable) == [2, 4, 5]
    assert read.lines.to_list() == [2, 4, 5, 6, 7, 8, 9, 10]
    assert read.frame["amount.__text"].to_list() == ["1000.00", "1E-7", "-0.00", None, "7.10"]
    assert read.frame.schema["amount"] == pl.Decimal(38, 7)
    assert read.frame["payout_id"].to_list() == ["P-1", "P-3", "P-6", None, "P-1"]
    assert read.keys.to_list() == ["P-1", "P-2", "P-3", "P-4", "P-5", "P-6", "", "P-1"]


@pytest.mark.parametrize("text", [
    "person_id,career_year,name\nT-1,1\nT-2,2,Ann,extra\nT-3,3,Bo\n",
    "person_id,career_year,other\nT-1,1\nT-2,2,x,extra\nT-3,3,y\n",  # the last column is not read
    "person_id,career_year,other\nT-1,1,x,extra\nT-2,2\nT-3,3,y\n",
    "grant_id,budget_period,other\nG,2025-26,x\nG,2025-26,x,extra\nG,2025-26",  # the short line last
])
def test_a_short_and_a_long_line_in_one_chunk_are_both_broken(tmp_path: Path, text: str) -> None:
    """The commas add up (one line lacks one, another has one more): both rows are still broken."""
    name = text.split("_", 1)[0].replace("person", "people").replace("grant", "grants")
    read = same(write(tmp_path, text, name=f"{name}.csv"), TABLES[name], sure=True)
    assert read is not None and sorted(read.unreadable) == ([2, 3] if name == "grants" else [1, 2])


def test_a_two_column_key_and_lists(tmp_path: Path) -> None:
    path = write(tmp_path, "district,participating_years,agreement_year,gives_access\n"
                           "Gallup, 2024-25; ;2025-26 ,2025-26,yes\nBelen,;,2025-26,1\nTaos,,,\nMora,,2025,\n",
                 name="districts.csv")
    read = same(path, TABLES["districts"], sure=True)
    assert read is not None
    assert read.frame["participating_years"].to_list() == [["2024-25", "2025-26"], [], None]
    assert list(read.unreadable) == [4]
    path = write(tmp_path, "person_id,session_id,date\nT-1,S-1,2025-01-02\n,S-2,\nT-3,,2025-13-01\n",
                 name="attendance.csv")
    read = same(path, TABLES["attendance"], sure=True)
    assert read is not None and read.keys.to_list() == ["T-1/S-1", "/S-2", "T-3/"]


def test_quoted_cells(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line with a quote is split by the csv module, in place among the others."""
    text = ('"payout_id",amount,"role"\nP-1,"1,200.00",mentor\nP-2,2,"men""tor"\n""\nP-3,3,x\n'
            '"P-4",4,a"b\nP-5,"5",\n"P-6",6\n')
    for chunk in (1 << 22, 16):
        monkeypatch.setattr(columns_module, "CHUNK", chunk)
        read = same(write(tmp_path, text), TABLES["payouts"], sure=True)
        assert read is not None and read.count == 6
        assert read.lines.to_list() == [2, 3, 5, 6, 7, 8]
        assert list(read.unreadable) == [1, 6]
        assert read.frame["role"].to_list() == ['men"tor', "x", 'a"b', None]


@pytest.mark.parametrize("text", [
    'payout_id,amount,role\n"P-1","1"\n"P-2","2","x","y"\n"P-3","3","z"\n',  # too few and too many
    'payout_id,amount,role\n"P-1","1","a"\n"P-2","2","x,y"\n"P-3","3","""z"""\n',  # all whole
    'payout_id\n"P-1"\n""\n"P-3"\n',  # one column: a quoted empty line is a blank one
    'payout_id,amount\n"P-1",\x01end\nP-2,"\x01end"\n',  # the sentinel as a cell
])
def test_plainly_quoted_lines(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for chunk in (1 << 22, 20):
        monkeypatch.setattr(columns_module, "CHUNK", chunk)
        same(write(tmp_path, text), TABLES["payouts"], sure=True)


def test_missing_columns_and_unknown_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "x,payout_id,,amount\n1,P-1,,2\n2,P-2,,\n", name="payouts.csv")
    read = same(path, TABLES["payouts"], sure=True)
    assert read is not None and read.frame.schema["pay_date"] == pl.Date
    assert read.frame.schema["amount"] == pl.Decimal(38, 0)


def test_an_empty_table_and_a_header_without_a_line_end(tmp_path: Path) -> None:
    read = same(write(tmp_path, "payout_id,amount"), TABLES["payouts"], sure=True)
    assert read is not None and read.count == 0 and read.frame.height == 0
    read = same(write(tmp_path, "payout_id,amount\nP-1,2"), TABLES["payouts"], sure=True)
    assert read is not None and read.count == 1


@pytest.mark.parametrize("text", [
    'payout_id,amount\n"P-1\nP-2",2\n',  # a quoted cell over two lines
    'payout_id,amount\nP-1,"2\n',  # a quote never closed
    '"payout_id\n",amount\nP-1,2\n',  # a header over two lines
    "payout_id,amount\nP-1,2\rP-2,3\n",  # a lone carriage return
    "payout_id,amount\nP-1,2\x00\n",  # a NUL byte
    "payout_id,amount,amount\nP-1,2,3\n",  # a column named twice
    "\npayout_id,amount\nP-1,2\n",  # a blank first line
    "payout_id,amount\n\ufeffP-1,2\n",  # a byte-order mark inside
    f"payout_id,amount\nP-1,{'1' * 1_000_001}\n",  # a cell longer than a cell may be
    f"payout_id,other\nP-1,{'x' * 4_000_001}\n",  # a field longer than the csv module takes
])
def test_what_is_not_plain_is_declined(tmp_path: Path, text: str) -> None:
    assert csv_columns(write(tmp_path, text), TABLES["payouts"], "payouts.csv") is None


@pytest.mark.parametrize("start", ["x^", "x\x01", "(", "\x1fP"])
@pytest.mark.parametrize("blank", ["", "\n"])
def test_lines_that_start_as_a_compressed_stream_does(tmp_path: Path, start: str, blank: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Polars takes bytes starting with a zlib, zstd or gzip mark for a compressed stream."""
    monkeypatch.setattr(columns_module, "CHUNK", 16)
    path = write(tmp_path, f"payout_id,amount\n{start}-1,2\n{blank}{start}-2,3\n{start},4\n")
    read = same(path, TABLES["payouts"], sure=True)
    assert read is not None and read.count == 3


def test_a_long_cell_in_a_column_not_read(tmp_path: Path) -> None:
    path = write(tmp_path, f"payout_id,other,amount\nP-1,{'x' * 1_500_000},2\nP-2,y,3\n")
    read = same(path, TABLES["payouts"], sure=True)
    assert read is not None and read.count == 2


def test_a_file_that_is_not_utf8_is_declined(tmp_path: Path) -> None:
    path = tmp_path / "payouts.csv"
    path.write_bytes(b"payout_id,amount\nP-\xe9,2\n")
    assert csv_columns(path, TABLES["payouts"], "payouts.csv") is None


# -- generated files -----------------------------------------------------------------------------
CELLS: dict[str, list[str]] = {
    "text": ["P-1", "P-2", "T-1", " T-1 ", "mentor", "é", "\u3000x\xa0", "\x1cy", "", " ", "2025-26", "2025-2026",
             "2025-26 ", "a b", "Peñasco", '"P-1"', '"a,b"', '"x""y"', 'a"b', '"ab"c', '""', ' "T-1"'],
    "integer": ["1", "2", "+3", "-0", "007", "", " 4 ", "1.0", "x", "9" * 19, "\u0661"],
    "decimal": ["1000.00", "1.5", ".5", "5.", "-0.00", "0.0000001", "1e3", "1,200.00", "$5", "", " 2.50 ",
                "123456789012345678.123456789012", "0E-7", "1." + "0" * 13],
    "date": ["2025-07-01", "2025-02-30", "2025-7-1", "", " 2024-02-29 ", "2023-02-29", "01/02/2025"],
    "boolean": ["true", "FALSE", "yes", "n", "1", "0", "maybe", "", " t "],
    "list": ["a;b", " a ; ;b ", ";", "", "x"],
}


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, str, bool]:
    name = draw(st.sampled_from(["payouts", "people", "attendance", "districts", "grants"]))
    table = TABLES[name]
    fields = list(table.fields)
    header = draw(st.lists(st.sampled_from([*fields, "other", ""]), min_size=1, max_size=8, unique=True))
    header = [table.key[0], *[column for column in header if column != table.key[0]]]
    header = [f" {column}" if draw(st.booleans()) and column else column for column in header]
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["row", "row", "row", "blank", "ragged", "odd"]))
        if kind == "blank":
            lines.append(draw(st.sampled_from(["", " ", "\t"])))
            continue
        cells = [draw(st.sampled_from(CELLS[table.fields.get(column.strip(), "text")])) for column in header]
        if kind == "ragged":
            cells = cells[:-1] if draw(st.booleans()) else [*cells, "x"]
        if kind == "odd":
            cells[-1] += draw(st.sampled_from(['"', "\r", ",", "\x00", "\ufeff", "\x85"]))
        lines.append(",".join(cells))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join([",".join(header), *lines]) + (end if draw(st.booleans()) else "")
    return name, text, draw(st.booleans())


@given(csv_files(), st.sampled_from([1 << 24, 64]), st.booleans())
@settings(max_examples=400, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_generated_files(tmp_path: Path, file: tuple[str, str, bool], chunk: int, keep_some: bool) -> None:
    name, text, bom = file
    table = TABLES[name]
    path = write(tmp_path, text, name=f"{name}.csv", bom=bom)
    kept = [column for position, column in enumerate(table.fields) if position % 2] if keep_some else None
    original = columns_module.CHUNK, columns_module._SLICE
    columns_module.CHUNK, columns_module._SLICE = chunk, (3 if chunk < 1 << 10 else original[1])
    try:
        same(path, table, kept)
    finally:
        columns_module.CHUNK, columns_module._SLICE = original


def test_dates_and_amounts_are_values_not_text(tmp_path: Path) -> None:
    path = write(tmp_path, "payout_id,pay_date,amount,installment\nP-1,2025-09-15,10.005,2\n")
    read = csv_columns(path, TABLES["payouts"], "payouts.csv")
    assert read is not None
    row = read.frame.row(0, named=True)
    assert row["pay_date"] == dt.date(2025, 9, 15) and row["installment"] == 2
    assert row["amount"] == Decimal("10.005") and row["amount.__text"] == "10.005"
