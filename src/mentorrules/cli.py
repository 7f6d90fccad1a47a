"""The ``mentorrules`` command: parse arguments, call the library, print, pick the exit code.

Exit codes: 0 every row passes (or the command succeeded), 1 some row fails or is in error
(or a test or lint check fails), 2 bad usage, a bad rule file or unreadable input.
Only this module prints problems; heavy modules are imported inside the commands so that
``mentorrules --help`` answers at once.
"""

from __future__ import annotations

import argparse
import datetime as dt
import errno
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mentorrules import __version__

if TYPE_CHECKING:
    from mentorrules.engine import Engine
    from mentorrules.errors import Location, Problem

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
_EXCERPT_WIDTH = 120  # characters of a source line shown under a problem
EXIT_PIPE_CLOSED = 128 + 13  # killed by SIGPIPE, as `yes | head -1` leaves `yes`


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    from mentorrules.reports.terminal import EscapingStream

    # No control character from the data or the packs reaches the terminal raw (an escape
    # sequence in a payout id); machine formats on stdout escape their own text.
    out, err = sys.stdout, sys.stderr
    sys.stderr = EscapingStream(err)
    if getattr(args, "format", None) not in ("json", "csv", "html") or _is_terminal(out):
        sys.stdout = EscapingStream(out)
    try:
        return _run(args)
    finally:
        sys.stdout, sys.stderr = out, err


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _run(args: argparse.Namespace) -> int:
    from mentorrules.errors import MentorRulesError

    try:
        code: int = args.run(args)
        sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        return code
    except MentorRulesError as error:
        if _pipe_closed(error):
            return _quiet_after_closed_pipe()
        print_problems(error.problems, sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _quiet_after_closed_pipe()
    except BaseException as error:  # a signal while a report was written: the old report was kept
        from mentorrules.reports.files import Interrupted

        if isinstance(error, Interrupted):
            return 128 + error.signum
        raise


def _pipe_closed(error: BaseException) -> bool:
    """True when ``error`` was raised because the reader of stdout went away (``| head``)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, BrokenPipeError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _quiet_after_closed_pipe() -> int:
    """End as Unix tools do when their reader has gone: no message, status 128 + SIGPIPE.

    Output still buffered is dropped (stdout now points at the null device), so that Python
    does not complain about the closed pipe when it flushes at exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured in tests)
        pass
    return EXIT_PIPE_CLOSED


# -- arguments ----------------------------------------------------------------------------------
def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date written YYYY-MM-DD") from None


def _record(text: str) -> tuple[str, str]:
    table, separator, key = text.partition(":")
    if not separator or not table or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not TABLE:KEY, e.g. payouts:P-0412")
    return table, key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mentorrules",
        description="Check teacher-mentorship stipend and grant payout files against policy rule packs.",
        epilog="Exit codes: 0 clean, 1 findings of severity error (or failing tests), "
        "2 usage, rule file or input problems.", allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"mentorrules {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def command(name: str, **options: Any) -> argparse.ArgumentParser:
        # No abbreviated options: `--rule X` would be taken as `--rules X`, a path.
        return commands.add_parser(name, allow_abbrev=False, **options)

    def packs_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("--pack", action="append", metavar="NAME",
                             help="load only core and this pack (repeatable; default: all installed)")
        command.add_argument("--rules", action="append", type=Path, default=[], metavar="PATH",
                             help="also load the rules in this directory or file (repeatable)")

    def engine_option(command: argparse.ArgumentParser) -> None:
        command.add_argument("--engine", choices=("columnar", "python"), default="columnar",
                             help="columnar (default) checks whole columns with Polars; python forces the "
                             "row-at-a-time reference (same report)")

    validate = command("validate", help="check data files and print a report",
                                   description="Check every row of the data files; every row "
                                   "appears in the report exactly once.")
    validate.add_argument("data", nargs="+", type=Path, metavar="DATA",
                          help="a directory of table files, or table files (payouts.csv, people.json, ...)")
    packs_options(validate)
    validate.add_argument("--as-of", type=_date, metavar="DATE",
                          help="date for rows without a date of their own (default: today)")
    validate.add_argument("--format", choices=("table", "json", "csv", "html", "xlsx"), default="table",
                          help="table for a terminal, json for systems, csv or xlsx for spreadsheets, "
                          "html to share (xlsx needs --output)")
    validate.add_argument("--output", type=Path, metavar="FILE", help="write the report here, not to stdout")
    validate.add_argument("--mask", nargs="?", const="", metavar="FIELD,...",
                          help="hide these personal fields in the report (alone: the packs' defaults, e.g. name,email)")
    validate.add_argument("--period", metavar="PERIOD",
                          help="judge only the payouts paid in this month (2026-06), range of days "
                          "(2026-06-01..2026-06-30) or school year (2025-26); earlier payouts are history")
    validate.add_argument("--split", type=Path, metavar="DIR",
                          help="also write DIR/payable.csv (rows that pass) and DIR/held.csv (the rest, with "
                          "rules and messages), in the payouts file's format")
    validate.add_argument("--complete", action="store_true",
                          help="every rule must run: a table a rule reads that is not given is an input "
                          "problem (exit 2), not a rule left unchecked")
    validate.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                          help="record the run in the run history (default: when .mentorrules/history.sqlite "
                          "exists here, or with --history)")
    validate.add_argument("--history", type=Path, metavar="PATH",
                          help="the run history's file (default: .mentorrules/history.sqlite)")
    engine_option(validate)
    validate.set_defaults(run=_validate)

    test = command("test", help="run the YAML rule tests",
                               description="Run the rule tests of the loaded packs (and of PATH).")
    test.add_argument("path", nargs="*", type=Path, metavar="PATH",
                      help="rule directories or files whose rules and tests to add")
    packs_options(test)
    test.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    test.add_argument("--coverage", action="store_true",
                      help="show which rules (held and failed), when-branches and parameter periods the tests exercise")
    test.add_argument("--threshold", type=float, metavar="N", help="with --coverage: fail under N percent")
    test.set_defaults(run=_test)

    lint = command("lint", help="check rule packs for authoring mistakes")
    lint.add_argument("path", nargs="*", type=Path, metavar="PATH", help="rule directories or files to add")
    packs_options(lint)
    lint.add_argument("--data", nargs="+", type=Path, metavar="DATA",
                      help="records to check parameters against: warn when a value is stale for them")
    lint.add_argument("--stale-after", type=int, default=5, metavar="YEARS",
                      help="with --data: a parameter unchanged this long before the newest record is stale")
    lint.set_defaults(run=_lint)

    explain = command("explain", help="show how each rule went for one record")
    explain.add_argument("data", nargs="+", type=Path, metavar="DATA")
    explain.add_argument("--record", required=True, type=_record, metavar="TABLE:KEY",
                         help="the record to explain, e.g. payouts:P-0412")
    packs_options(explain)
    explain.add_argument("--as-of", type=_date, metavar="DATE")
    explain.add_argument("--mask", nargs="?", const="", metavar="FIELD,...",
                         help="show [masked] for values of these personal columns (alone: the packs' defaults)")
    explain.add_argument("--format", choices=("text", "json"), default="text",
                         help="json: one decision document with its trace per line (schemas/decision.schema.json)")
    explain.set_defaults(run=_explain)

    packs = command("packs", help="list the packs (installed, and --rules paths) and the session backend")
    packs_options(packs)
    packs.set_defaults(run=_packs)

    docs = command("docs", help="write the rules in force, per pack, for administrators")
    packs_options(docs)
    docs.add_argument("--format", choices=("md", "html"), default="md")
    docs.add_argument("--output", type=Path, metavar="DIR", help="write one file per pack here (default: print)")
    docs.set_defaults(run=_docs)

    diff = command("diff", help="the rows whose outcome changes between two versions of the rules",
                               description="Run two versions of the policy on the same data. A REF is "
                               "`installed` (the packs as installed) or a rules directory that replaces the "
                               "pack it is a version of (named by its pack.yaml, or sharing its file names).")
    diff.add_argument("data", nargs="+", type=Path, metavar="DATA")
    diff.add_argument("--before", default="installed", metavar="REF")
    diff.add_argument("--after", required=True, metavar="REF")
    packs_options(diff)
    diff.add_argument("--as-of", type=_date, metavar="DATE")
    diff.add_argument("--format", choices=("table", "json"), default="table")
    engine_option(diff)
    diff.set_defaults(run=_diff)

    serve = command("serve", help="answer other systems over HTTP (JSON; see docs/contract.md)",
                    description="Serve the loaded packs over HTTP until SIGTERM or Ctrl-C, then answer every "
                    "request already accepted and stop. Endpoints: GET /openapi.json.")
    packs_options(serve)
    serve.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                       help="the address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=int, default=8000, metavar="N", help="the port (default: 8000; 0: any free one)")
    serve.add_argument("--token-file", type=Path, metavar="FILE",
                       help="every request must carry `Authorization: Bearer <the token in FILE>` (not /healthz)")
    serve.add_argument("--decision-log", type=Path, metavar="FILE",
                       help="append every answer to FILE as a JSON line (masked as --mask masks)")
    serve.add_argument("--mask", nargs="?", const="", metavar="FIELD,...",
                       help="no answer and no log line shows these personal columns (alone: the packs' defaults)")
    serve.add_argument("--max-body", type=int, default=16 * 1024 * 1024, metavar="BYTES",
                       help="refuse request bodies over this size with 413 (default: 16 MiB)")
    serve.add_argument("--max-rows", type=int, default=100_000, metavar="N",
                       help="refuse requests with more rows than this with 413 (default: 100,000)")
    serve.add_argument("--as-of", type=_date, metavar="DATE",
                       help="date for rows without a date of their own when a request gives none (default: today)")
    serve.add_argument("--session-idle", type=float, default=3600.0, metavar="SECONDS",
                       help="close sessions no request has used for this long (default: 3600)")
    serve.set_defaults(run=_serve)

    history = command("history", help="list the recorded runs of validate --record")
    history.add_argument("--history", type=Path, default=None, metavar="PATH",
                         help="the run history's file (default: .mentorrules/history.sqlite)")
    history.add_argument("--format", choices=("table", "json"), default="table")
    history.set_defaults(run=_history)

    compare = command("compare", help="what changed between two recorded runs: new failures, fixed, money",
                                 description="Compare two recorded runs: rows that fail now and did not, rows "
                                 "fixed, rows still failing, and the money held. Exit 1 when there are new "
                                 "failures.")
    compare.add_argument("runs", nargs="*", type=int, metavar="RUN", help="two run ids (see mentorrules history)")
    compare.add_argument("--since", choices=("last",),
                         help="last: the newest run against the run of the same input files before it")
    compare.add_argument("--history", type=Path, default=None, metavar="PATH",
                         help="the run history's file (default: .mentorrules/history.sqlite)")
    compare.add_argument("--format", choices=("table", "json", "html"), default="table")
    compare.set_defaults(run=_compare)

    new_pack = command("new-pack", help="write a working skeleton of a pack for another state")
    new_pack.add_argument("name", metavar="NAME", help="pack name, e.g. oregon")
    new_pack.add_argument("--jurisdiction", required=True, metavar="XX", help="state code, e.g. OR")
    new_pack.add_argument("--output", type=Path, default=Path(), metavar="DIR", help="where to write it (default: .)")
    new_pack.set_defaults(run=_new_pack)
    return parser


def _engine(args: argparse.Namespace, extra: Sequence[Path] = ()) -> Engine:
    from mentorrules.engine import Engine
    from mentorrules.packs.discovery import installed_names, rule_paths_said

    engine = Engine.load(packs=args.pack, rules=[*args.rules, *extra])
    paths = [*args.rules, *extra]
    if paths:  # every command says what a rules folder became (on stderr: reports stay clean)
        for line in rule_paths_said(engine.packs, paths, installed_names()):
            print(f"note: {line}", file=sys.stderr)
    return engine


# -- commands -----------------------------------------------------------------------------------
def _validate(args: argparse.Namespace) -> int:
    from mentorrules.errors import Location, MentorRulesError, Problem

    if args.format == "xlsx" and args.output is None:
        raise MentorRulesError([Problem("MR410", "an xlsx report needs a file", Location(),
                                        hint="add --output report.xlsx")])
    if args.output is not None and not args.output.parent.is_dir():  # said now, not after the run
        raise MentorRulesError([Problem("MR407", "cannot write the report: its folder does not exist",
                                        Location(str(args.output)), hint=f"create {args.output.parent} first")])
    period = None
    if args.period is not None:
        from mentorrules.checking.period import Period

        period = Period.parse(args.period)
    if args.split is not None:
        from mentorrules.reports import split

        split.check_folder(args.split)
    if args.output is not None:  # a read-only report is said now, not after the run
        from mentorrules.reports import files

        try:
            files.check_target(args.output)
        except OSError as error:
            raise _not_written(error, args.output) from None
    engine = _engine(args)
    mask = _mask_of(args, engine)
    store = _open_history(args)  # a damaged history is said before a long run, not after
    # Reports that show the input rows need every column; the others only what rules read.
    dataset = engine.read(args.data, every_column=args.format in ("html", "xlsx"), columns=args.engine == "columnar")
    missing = []
    if args.complete:  # only the tables of rules that apply to the data's states and programs
        scope = engine.in_scope(dataset.tables)
        missing = sorted({table for rule, tables in engine.not_checked(dataset.tables).items() if rule in scope
                          for table in tables})
    if missing:
        given = f"the table {missing[0]} was not given" if len(missing) == 1 else \
            f"the tables {', '.join(missing)} were not given"
        raise MentorRulesError([Problem(
            "MR309", f"{given}, and --complete asks for every rule to run",
            Location(", ".join(map(str, args.data))), expected="every table the loaded rules read",
            hint="give those files (a header with no rows for a table that is empty), or drop --complete")])
    progress = _Progress() if sys.stderr.isatty() else None
    report = engine.validate(dataset, as_of=args.as_of, mask=mask, progress=progress, period=period, engine=args.engine)
    history = report.summary.get("incomplete", {}).get("history_missing", []) if args.complete else []
    if history:  # --complete: a month checked without the payouts its caps and duplicates need
        raise MentorRulesError([Problem(
            "MR309", f"{item['why']}, and --complete asks for every rule to see what it needs",
            Location(", ".join(map(str, args.data))), expected="the payouts before the period: "
            + ("from " + item["from"] if item["from"] else "every earlier payout") + f" to {item['until']}",
            hint="give the payout file with the school year's earlier payouts (they are history: read, not judged)")
            for item in history])
    if store is not None:  # decisions made once, for the report and the history alike
        from dataclasses import replace

        report = replace(report, decisions=tuple(report.decisions))
    titles = {rule.id: rule.title for rule in engine.rules}
    run = _run_lines(args)
    from mentorrules.checking.codegen import MASKED

    rows = {name: [{column: MASKED if column in report.masked and value is not None else value
                    for column, value in row.values.items()} for row in table_rows]
            for name, table_rows in dataset.tables.items()} if args.format in ("html", "xlsx") else {}
    try:
        if args.format == "xlsx":
            from mentorrules.reports import xlsx

            xlsx.write(report, args.output, input_rows=rows, titles=titles, run=run)
        elif args.output:
            from mentorrules.reports import files

            with files.replacing(args.output) as stream:  # whole or not at all, the old one kept
                _write(report, args.format, stream, titles, rows, run)
            if args.format == "csv":  # one line per row there; the money and counts beside it
                from mentorrules.reports import csv as csv_report

                summary_path = args.output.with_name(args.output.stem + ".summary.csv")
                with files.replacing(summary_path) as stream:
                    csv_report.write_summary(report, stream)
                print(f"mentorrules: wrote {summary_path}", file=sys.stderr)
        else:
            _write(report, args.format, sys.stdout, titles, rows, run)
    except OSError as error:
        if args.output is None or _pipe_closed(error):
            raise
        raise _not_written(error, args.output) from None
    finally:
        if progress is not None:
            progress.close()
    if args.output or args.format != "table":  # the table report lists them itself
        for path, why in report.ignored.items():
            print(f"mentorrules: ignored {path}: {why}", file=sys.stderr)
    if report.not_checked and (args.output or args.format != "table"):  # the table report lists them itself
        from mentorrules.reports import tally

        skipped = "; ".join(f"{tables}: {', '.join(rules)}" for tables, rules in tally.not_checked(report))
        print(f"mentorrules: not checked, these rules read a table that was not given: {skipped}", file=sys.stderr)
    code = EXIT_CLEAN if report.clean else EXIT_FINDINGS
    if store is not None:
        _record_run(store, report, dataset, args)
    if args.split is not None:
        from mentorrules.reports import split

        written = split.write(report, args.split)
        print(f"mentorrules: wrote {', '.join(map(str, written.files))}: {written.payable} payable, "
              f"{written.held} held" + (f", {written.history} history" if written.history else ""), file=sys.stderr)
    if args.output is not None:
        print(f"mentorrules: wrote {args.output}", file=sys.stderr)
        print(f"mentorrules: exit {code}: " + (
            "every row passes" if code == EXIT_CLEAN else "some rows fail or could not be read (see the report)"),
            file=sys.stderr)
    return code


def _open_history(args: argparse.Namespace) -> Path | None:
    """The run history ``validate`` records in (see ``history.store_path``), or None; opened
    once here, so that a damaged or unwritable history is said before a long run."""
    from mentorrules import history

    path = history.store_path(args.history, args.record, Path.cwd())
    if path is None:
        return None
    # .mentorrules/ is made by the first --record; a folder --history names must exist.
    history.History.open(path, create=True, make_folder=args.history is None).close()
    return path


def _record_run(path: Path, report: Any, dataset: Any, args: argparse.Namespace) -> None:
    """Record the run; say where, and what changed since the last run of the same inputs."""
    from mentorrules import history

    with history.History.open(path, create=True) as store:
        run = store.record(report, history.amounts_of(dataset.tables), args.as_of or dt.date.today())
        since = history.since_last(store, run)
    print(f"mentorrules: recorded run {run.id} in {_relative(path)}", file=sys.stderr)
    if since is not None:  # the text report's footer; beside a file report, on stderr
        print(since.since(), file=sys.stdout if args.format == "table" and not args.output else sys.stderr)


def _not_written(error: OSError, path: Path) -> Exception:
    """MR407 for a report or page that could not be written (the old file, if any, is kept)."""
    from mentorrules.errors import Location, MentorRulesError, Problem

    reason = error.strerror or str(error)
    hint = {errno.ENOSPC: "free some space, or write the report elsewhere",
            errno.EDQUOT: "free some space, or write the report elsewhere",
            errno.EFBIG: "free some space, or write the report elsewhere",
            errno.EACCES: "choose another path, or make the file writable if it may be replaced",
            errno.EROFS: "choose a path on a writable disk"}.get(error.errno or 0, "choose another path")
    return MentorRulesError([Problem("MR407", f"cannot write {'the report' if path.suffix else 'it'}: {reason}",
                                     Location(str(path)), hint=hint)])


def _mask_of(args: argparse.Namespace, engine: Engine) -> list[str] | None:
    """The columns ``--mask`` names; alone, the packs' defaults; absent, None.

    A name that is no column of any table would mask nothing, silently: it is a usage
    mistake (MR412). A column is masked in every table that has it, so ``people.name`` is
    told to be written ``name``.
    """
    from mentorrules.errors import Location, MentorRulesError, Problem, did_you_mean

    if args.mask is None:
        return None
    names = [name.strip() for name in args.mask.split(",") if name.strip()] or list(engine.mask_defaults())
    columns = {column for table in engine.tables.values() for column in table.fields}
    personal = ", ".join(engine.mask_defaults()) or "none"
    problems = []
    for name in names:
        if name in columns:
            continue
        _, dot, column = name.rpartition(".")
        hint: str | None
        if dot and column in columns:
            message = f"--mask takes column names, not table.column ({name!r})"
            hint = f"write {column!r}: a masked column is hidden in every table that has it"
        else:
            message = f"--mask: {name!r} is not a column of any table, so it would mask nothing"
            people = engine.tables.get("people")
            hint = did_you_mean(name, columns) or (
                f"the columns of people are {', '.join(people.fields)}" if people else None)
        problems.append(Problem("MR412", message, Location(),
                                expected=f"column names, comma-separated: the personal columns ({personal}) "
                                "or any other column of the input tables", hint=hint))
    if problems:
        raise MentorRulesError(problems)
    return names


class _Progress:
    """Rows visited and rows/s per pass on stderr, for a person watching a terminal; the CLI
    makes one only when stderr is a terminal, so pipes and CI stay quiet."""

    def __init__(self) -> None:
        self.stage = ""
        self.started = time.perf_counter()
        self.shown = False

    def __call__(self, stage: str, rows: int) -> None:
        if stage != self.stage:
            self.stage, self.started = stage, time.perf_counter()
        rate = rows / max(time.perf_counter() - self.started, 1e-9)
        stream = getattr(sys.stderr, "stream", sys.stderr)  # its own escape codes go through raw
        stream.write(f"\r\x1b[2K{stage}: {rows:,} rows, {rate:,.0f} rows/s")
        stream.flush()
        self.shown = True

    def close(self) -> None:
        """Clear the progress line, so that what follows starts on a clean line."""
        if self.shown:
            stream = getattr(sys.stderr, "stream", sys.stderr)
            stream.write("\r\x1b[2K")
            stream.flush()


def _run_lines(args: argparse.Namespace) -> dict[str, str]:
    """When the run was made and the date parameters were taken on, for the HTML and XLSX headers.

    ``SOURCE_DATE_EPOCH`` (seconds), when set, is the run time: two runs then give the same bytes.
    """
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    now = dt.datetime.fromtimestamp(int(epoch), dt.UTC) if epoch.isdigit() else dt.datetime.now(dt.UTC)
    as_of = args.as_of or dt.date.today()
    return {"run on": now.strftime("%Y-%m-%d %H:%M UTC"),
            "as of": f"{as_of.isoformat()} (the date parameters are taken on for rows without a date)"}


def _write(report: object, kind: str, stream: TextIO, titles: dict[str, str],
           rows: dict[str, list[dict[str, Any]]], run: dict[str, str] | None = None) -> None:
    from mentorrules.model import Report
    from mentorrules.reports import csv, html, json, text

    assert isinstance(report, Report)
    if kind == "html":
        html.write(report, stream, titles=titles, input_rows=rows, run=run)
    elif kind == "json":
        json.write(report, stream)
    elif kind == "csv":
        csv.write(report, stream)
    else:
        text.write(report, stream, titles)


def _test(args: argparse.Namespace) -> int:
    from mentorrules.authoring import testing

    started = time.perf_counter()
    engine = _engine(args, args.path)
    outcome = testing.run(engine, testing.find_test_files(engine, args.path))
    if outcome.problems:
        print_problems(outcome.problems, sys.stderr)
    by_file: dict[Path, list[testing.CaseResult]] = {}
    for result in outcome.results:
        by_file.setdefault(result.case.path, []).append(result)
    if not args.quiet:
        for path, results in by_file.items():
            marks = "".join("." if result.passed else "F" for result in results)
            print(f"{_relative(path)} {marks}")
    failures = [result for result in outcome.results if not result.passed]
    if failures:
        print("\n" + "=" * 30 + " FAILURES " + "=" * 30)
        for result in failures:
            print(f"{_relative(result.case.path)}:{result.case.location.line}: {result.case.name}")
            for failure in result.failures:
                print(f"    {failure}")
    seconds = time.perf_counter() - started
    summary = f"{outcome.passed} passed, {outcome.failed} failed in {seconds:.2f}s"
    if outcome.problems:  # the counts are not all there is to it: say so beside them
        summary += f", and {_counted(len(outcome.problems), 'problem')} in test files"
    print(f"{'=' * 20} {summary} {'=' * 20}")
    below = False
    if args.coverage:
        covered_all = total_all = 0
        print("\ncoverage")
        for kind, (covered, total, missing) in outcome.coverage.measure(engine).items():
            covered_all, total_all = covered_all + covered, total_all + total
            print(f"  {kind:<18} {covered:>4}/{total:<4} {100 * covered / max(total, 1):6.1f}%")
            for item in missing:  # a rule says what it lacks: "CAP-001: no passing case"
                print(f"      {item}" if kind == "rules" else f"      not covered: {item}")
        percent = 100 * covered_all / max(total_all, 1)
        print(f"  {'total':<18} {covered_all:>4}/{total_all:<4} {percent:6.1f}%")
        if args.threshold is not None and percent < args.threshold:
            print(f"coverage {percent:.1f}% is under the threshold {args.threshold:g}%")
            below = True
    if outcome.problems:
        return EXIT_USAGE
    return EXIT_FINDINGS if failures or below else EXIT_CLEAN


def _lint(args: argparse.Namespace) -> int:
    from mentorrules.authoring import linting, testing

    engine = _engine(args, args.path)
    outcome = testing.run(engine, testing.find_test_files(engine, args.path))
    records = engine.read(args.data) if args.data else None
    results = linting.lint(engine, outcome, records, args.stale_after)
    errors = [result.problem for result in results if result.error]
    warnings = [result.problem for result in results if not result.error]
    print_problems(errors, sys.stdout)
    print_problems(warnings, sys.stdout, label="warning")
    print(f"{_counted(len(engine.rules), 'rule')} in {_counted(len(engine.packs), 'pack')}: "
          f"{_counted(len(errors), 'problem')}, {_counted(len(warnings), 'warning')}")
    return EXIT_FINDINGS if errors else EXIT_CLEAN


def _explain(args: argparse.Namespace) -> int:
    from mentorrules.checking.evaluation import show

    engine = _engine(args)
    table, key = args.record
    explained = engine.explain(args.data, table, key, as_of=args.as_of, mask=_mask_of(args, engine))
    if args.format == "json":
        import json

        from mentorrules.checking.tracing import trace_of

        for decision, explanations in explained:  # JSON lines: a repeated key has several rows
            document = decision.document(engine.digest, __version__, trace=trace_of(explanations))
            print(json.dumps(document, ensure_ascii=False))
        return EXIT_CLEAN if all(decision.status.value == "pass" for decision, _ in explained) else EXIT_FINDINGS
    width = max(len(rule.id) + (len(rule.check) + 1 if rule.check else 0) for rule in engine.rules)
    for number, (decision, explanations) in enumerate(explained):
        print(("\n" if number else "") + f"{table} {key} (row {decision.row}): {decision.status.value}")
        if not explanations:
            for finding in decision.findings:
                print(f"  {finding.rule}  {finding.message}")
        for explanation in explanations:
            rule = explanation.rule
            label = f"{rule.id}/{rule.check}" if rule.check else rule.id  # one of a rule's checks
            if explanation.not_given:
                tables = ", ".join(explanation.not_given)
                print(f"  {label:<{width}}  not checked      {rule.title} (not given: {tables})")
                continue
            if not explanation.applies:
                print(f"  {label:<{width}}  does not apply   {rule.title}")
                if explanation.why:
                    print(f"      {explanation.why}")
                continue
            if explanation.finding is None:
                print(f"  {label:<{width}}  holds            {rule.title}")
                continue
            print(f"  {label:<{width}}  {explanation.finding.severity.value:<16} {rule.title}")
            print(f"      {rule.require.text.strip()}")
            for step in explanation.steps:
                print(f"      | {step.text} = {show(step.value)}")
            for line in explanation.parameters:
                print(f"      | {line}")
            print(f"      {explanation.finding.message}")
            if rule.source:
                print(f"      source: {rule.source}")
    row_at_a_time = [rule.id for rule in engine.rules
                     if rule.table == table and engine.runs_where().get(rule.id) is not None]
    if row_at_a_time:  # explain itself always runs row-at-a-time; this is about validate
        print(f"\nvalidate's columnar engine runs {', '.join(row_at_a_time)} row-at-a-time "
              "(same findings; `mentorrules packs` says why)")
    passed = all(decision.status.value == "pass" for decision, _ in explained)
    return EXIT_CLEAN if passed else EXIT_FINDINGS


def _packs(args: argparse.Namespace) -> int:
    engine = _engine(args)
    counts: dict[str, int] = {}
    for rule in {rule.id: rule for rule in engine.rules}.values():  # a rule with checks counts once
        counts[rule.pack] = counts.get(rule.pack, 0) + 1
    print(f"{'pack':<16} {'version':<10} {'jurisdiction':<13} {'rules':>5}")
    for pack in engine.packs:
        print(f"{pack.name:<16} {pack.version:<10} {pack.jurisdiction or '(all)':<13} {counts.get(pack.name, 0):>5}")
    print(f"digest {engine.digest}")
    from mentorrules.sessions.streaming import backend_status

    backend, why = backend_status()  # what SessionConfig(backend="auto") takes; the default is python
    print(f"session backend: {backend} ({why}) with backend 'auto'; python by default")
    where = engine.runs_where()
    row_at_a_time = {rule_id: why for rule_id, why in where.items() if why is not None}
    print(f"validation engine: columnar, {len(where) - len(row_at_a_time)} of {len(where)} rules over whole columns"
          + (", row-at-a-time:" if row_at_a_time else ""))
    for rule_id, why in row_at_a_time.items():
        print(f"  {rule_id}: {why}")
    return EXIT_CLEAN


def _docs(args: argparse.Namespace) -> int:
    from mentorrules.authoring import docs

    engine = _engine(args)
    if args.output is None:
        for text in docs.pages(engine, args.format).values():
            print(text)
        return EXIT_CLEAN
    try:
        written = docs.write(engine, args.format, args.output)
    except OSError as error:
        raise _not_written(error, Path(error.filename) if error.filename else args.output) from None
    for path in written:
        print(f"wrote {_relative(path)}")
    return EXIT_CLEAN


def _diff(args: argparse.Namespace) -> int:
    import json

    from mentorrules.authoring import impact
    from mentorrules.engine import Engine

    def report(ref: str) -> tuple[Any, str]:
        """The report with the rules of ``ref``, and what those rules are, for the header."""
        if ref == "installed":
            return Engine.load(packs=args.pack, rules=args.rules).validate(args.data, as_of=args.as_of,
                                                                           engine=args.engine), \
                "the installed packs"
        engine = Engine.load(packs=args.pack, rules=args.rules, versions=[Path(ref)])
        pack = next(pack for pack in engine.packs if Path(ref) in pack.spec.rule_dirs)
        how = "in place of" if pack.spec.rule_dirs == (Path(ref),) else "laid over"  # a copy, or some files
        return engine.validate(args.data, as_of=args.as_of, engine=args.engine), f"{ref} {how} the pack {pack.name}"

    (before, before_label), (after, after_label) = report(args.before), report(args.after)
    found = impact.changes(before, after)
    labels = (before_label, after_label)
    if args.format == "json":
        json.dump(impact.to_dict(found, before, after, labels), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        impact.write_text(found, before, after, sys.stdout, labels)
    return EXIT_CLEAN


def _serve(args: argparse.Namespace) -> int:
    from mentorrules.errors import Location, MentorRulesError, Problem
    from mentorrules.serving.app import Settings
    from mentorrules.serving.server import bind, run

    token = None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text("utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            raise MentorRulesError([Problem("MR437", f"cannot read the token file: {reason or error}",
                                            Location(str(args.token_file)))]) from None
        if not token or any(character.isspace() for character in token):
            raise MentorRulesError([Problem("MR437", "the token file holds no token (one line, no spaces)",
                                            Location(str(args.token_file)),
                                            hint="write a long random token, e.g. `openssl rand -hex 32 > token`")])
    for option, value in (("--max-body", args.max_body), ("--max-rows", args.max_rows),
                          ("--session-idle", args.session_idle)):
        if value < 1:
            raise MentorRulesError([Problem("MR437", f"{option} must be at least 1, not {value}", Location())])
    if args.decision_log is not None and not args.decision_log.parent.is_dir():
        raise MentorRulesError([Problem("MR407", "cannot write the decision log: its folder does not exist",
                                        Location(str(args.decision_log)))])
    engine = _engine(args)
    settings = Settings(max_body=args.max_body, max_rows=args.max_rows, token=token, decision_log=args.decision_log,
                        mask=tuple(_mask_of(args, engine) or ()), as_of=args.as_of, session_idle=args.session_idle)
    # The service's own failures (MR439) are logged with their traceback on stderr.
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    listening = bind(args.host, args.port)
    host, port = listening.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"mentorrules serve: listening on http://{shown}:{port} (digest {engine.digest})", flush=True)
    run(engine, settings, listening)
    return EXIT_CLEAN



def _history(args: argparse.Namespace) -> int:
    from mentorrules.history import DEFAULT_PATH, History, views

    with History.open(args.history or DEFAULT_PATH) as store:
        views.write_runs(store.runs(), sys.stdout, args.format)
    return EXIT_CLEAN


def _compare(args: argparse.Namespace) -> int:
    from mentorrules.errors import Location, MentorRulesError, Problem
    from mentorrules.history import DEFAULT_PATH, History, compare, compare_last, views

    if not ((args.since and not args.runs) or (not args.since and len(args.runs) == 2)):
        raise MentorRulesError([Problem("MR443", "compare takes two run ids, or --since last", Location(),
                                        hint="mentorrules compare 3 4, or mentorrules compare --since last "
                                        "(run ids: mentorrules history)")])
    with History.open(args.history or DEFAULT_PATH) as store:
        found = compare_last(store) if args.since else compare(store, *args.runs)
    {"json": views.write_json, "html": views.write_html}.get(args.format, views.write_text)(found, sys.stdout)
    return EXIT_FINDINGS if found.changes.new else EXIT_CLEAN


def _new_pack(args: argparse.Namespace) -> int:
    from mentorrules.authoring import scaffold
    from mentorrules.errors import Location, MentorRulesError, Problem
    from mentorrules.packs.discovery import installed_names

    where = Location(str(args.output / args.name))
    mistakes = scaffold.mistakes(args.name, args.jurisdiction, installed_names())
    if mistakes:
        raise MentorRulesError([Problem("MR408", what, where, hint=hint) for what, hint in mistakes])
    try:
        root = scaffold.write(args.name, args.jurisdiction, args.output)
    except (OSError, FileExistsError) as error:
        raise MentorRulesError([Problem("MR408", str(error) if isinstance(error, FileExistsError)
                                        else f"cannot write the pack: {error.strerror or error}", where,
                                        hint="choose another --output or name")]) from None
    print(f"wrote {_relative(root)}: install it with `pip install -e {_relative(root)}`, "
          "then `mentorrules test`")
    return EXIT_CLEAN


# -- problems -----------------------------------------------------------------------------------
def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _counted(number: int, noun: str) -> str:
    """``1 problem``, ``2 problems``, ``0 problems``."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def print_problems(problems: Sequence[Problem], stream: TextIO, label: str | None = None) -> None:
    """Print problems like a compiler: location, code, message, the source line, what to do.

    A problem about no file in particular is told as the program's own message
    (``mentorrules: MR401 unknown pack 'ohio'``).
    """
    from mentorrules.errors import Location
    from mentorrules.reports.terminal import printable

    for problem in problems:
        location = problem.location
        where = str(location)
        if location == Location():  # about no file (an unknown pack, a usage mistake)
            where = "mentorrules"
        elif location.path and Path(location.path).is_absolute():
            where = where.replace(location.path, _relative(Path(location.path)), 1)
        prefix = f"{label}: " if label else ""
        stream.write(f"{printable(where)}: {prefix}{problem.code} {printable(problem.message)}\n")
        excerpt = _excerpt(location)
        if excerpt:
            stream.write(printable(excerpt, lines=True))
        if problem.expected:
            stream.write(f"   = expected {printable(problem.expected)}\n")
        if problem.hint:
            stream.write(f"   = help: {printable(problem.hint)}\n")
    if problems:
        stream.write("\n")


def _excerpt(location: Location) -> str:
    """The source line of a problem with a caret under its span, cut to a window when long."""
    path, line, column = location.path, location.line, location.column
    if not path or not line or not Path(path).is_file():
        return ""
    try:
        lines = Path(path).read_text("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    if not 1 <= line <= len(lines):
        return ""
    text = lines[line - 1]
    if column and location.end_column and location.end_column > column:
        width = location.end_column - column
    elif column:  # no span known: the word or name at the column
        token = re.match(r"[\w.\[\]'\"-]+", text[column - 1:])
        width = max(len(token.group(0)) if token else 1, 1)
    start = 0
    if len(text) > _EXCERPT_WIDTH:  # a long line (minified, pasted) is shown around the column
        start = max(0, min((column or 1) - 1 - _EXCERPT_WIDTH // 3, len(text) - _EXCERPT_WIDTH))
        shown = ("..." if start else "") + text[start:start + _EXCERPT_WIDTH]
        shown += "..." if start + _EXCERPT_WIDTH < len(text) else ""
        start -= 3 if start else 0
    else:
        shown = text
    number = str(line)
    result = f"{number} | {shown}\n"
    if column:
        offset = column - 1 - start
        width = min(width, max(len(shown) - offset, 1))
        result += f"{' ' * len(number)} | {' ' * offset}{'^' * width}\n"
    return result


if __name__ == "__main__":
    sys.exit(main())
