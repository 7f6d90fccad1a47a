"""The 7 checks of issue 13, written by hand twice: a Polars script and plain Python (csv module).

The yardsticks `make bench` measures the engine against: one row per payout with the ids of
the checks it fails, written as CSV (payout_id,failed). The checks, with the New Mexico pack's
parameter values written in (the engine reads them from the pack):

1. AMOUNT  amount positive in whole cents (STIPEND-002)
2. PAYEE   payee in people (STIPEND-003)
3. UNIQUE  payout id unique (DUP-001)
4. CAP     NM_PILOT: sum per payee/role/school year <= the role's cap (NMP-005)
5. MENTEES NM_PILOT pairings in force: distinct mentees per mentor and year <= 2 (NMP-008; on the
           payouts of that mentor and year)
6. PAIRING NM_PILOT: a pairing in force covering the service period (NMP-007)
7. TRAINING NM_PILOT final installment: >= 3 attended sessions that year (NMP-006)

    python bench/seven_checks.py polars|python DATA_DIR OUT.csv
"""

from __future__ import annotations

import contextlib
import csv
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

CAP = {"mentor": Decimal("2000.00"), "mentee": Decimal("1000.00")}
MAX_MENTEES = 2
MIN_SESSIONS = 3
INSTALLMENTS = 2
COUNTING = ("active", "completed")


def with_polars(data: Path, out: Path) -> int:
    import polars as pl

    def read(name: str) -> pl.LazyFrame:
        return pl.scan_csv(data / f"{name}.csv", infer_schema=False)

    payouts = read("payouts").with_row_index("__n").with_columns(
        pl.col("amount").str.to_decimal(scale=4).alias("amount_d"),
        pl.col("installment").cast(pl.Int64, strict=False),
        pl.col("pay_date").str.to_date(), pl.col("service_start").str.to_date(),
        pl.col("service_end").str.to_date())
    people = read("people").select(pl.col("person_id").alias("payee_id"), pl.lit(True).alias("known"))
    pairings = read("pairings").with_columns(pl.col("start_date").str.to_date(), pl.col("end_date").str.to_date())
    attendance = read("attendance")
    pilot = pl.col("program") == "NM_PILOT"
    amount_ok = (pl.col("amount_d") > 0) & pl.col("amount").str.contains(r"^-?\d+(\.\d{1,2})?$")
    mentees = (pairings.filter((pl.col("program") == "NM_PILOT") & pl.col("status").is_in(list(COUNTING)))
               .group_by("mentor_id", "school_year").agg(pl.col("mentee_id").n_unique().alias("mentees"))
               .select(pl.col("mentor_id").alias("payee_id"), "school_year", "mentees"))
    sessions = (attendance.filter(pl.col("attended") == "true")
                .group_by("person_id", "school_year", "program").agg(pl.col("session_id").n_unique().alias("sessions"))
                .select(pl.col("person_id").alias("payee_id"), "school_year", "program", "sessions"))
    start = pl.coalesce("service_start", "pay_date")
    end = pl.coalesce("service_end", "pay_date")
    covered_mentor = pairings.select(pl.col("mentor_id").alias("payee_id"), pl.lit("mentor").alias("role"),
                                     "program", "status", "start_date", "end_date")
    covered_mentee = pairings.select(pl.col("mentee_id").alias("payee_id"), pl.lit("mentee").alias("role"),
                                     "program", "status", "start_date", "end_date")
    covering = (payouts.filter(pilot).select("__n", "payee_id", "role", "program", start.alias("s"), end.alias("e"))
                .join(pl.concat([covered_mentor, covered_mentee]), on=["payee_id", "role", "program"])
                .filter(pl.col("status").is_in(list(COUNTING)) & (pl.col("start_date") <= pl.col("s"))
                        & (pl.col("end_date").is_null() | (pl.col("end_date") >= pl.col("e"))))
                .select("__n").unique().with_columns(pl.lit(True).alias("covered")))
    checked = (payouts.join(people, on="payee_id", how="left", maintain_order="left")
               .join(mentees, on=["payee_id", "school_year"], how="left", maintain_order="left")
               .join(sessions, on=["payee_id", "school_year", "program"], how="left", maintain_order="left")
               .join(covering, on="__n", how="left", maintain_order="left")
               .with_columns(
                   pl.when(~amount_ok.fill_null(False)).then(pl.lit("AMOUNT")).alias("c1"),
                   pl.when(pl.col("known").is_null()).then(pl.lit("PAYEE")).alias("c2"),
                   pl.when(pl.len().over("payout_id") > 1).then(pl.lit("UNIQUE")).alias("c3"),
                   pl.when(pilot & pl.col("role").is_in(list(CAP))
                           & (pl.col("amount_d").sum().over("payee_id", "role", "school_year", pilot)
                              > pl.col("role").replace_strict(list(CAP), list(CAP.values()), default=None)))
                   .then(pl.lit("CAP")).alias("c4"),
                   pl.when(pilot & (pl.col("mentees") > MAX_MENTEES)).then(pl.lit("MENTEES")).alias("c5"),
                   pl.when(pilot & pl.col("covered").is_null()).then(pl.lit("PAIRING")).alias("c6"),
                   pl.when(pilot & (pl.col("installment") >= INSTALLMENTS)
                           & (pl.col("sessions").fill_null(0) < MIN_SESSIONS)).then(pl.lit("TRAINING")).alias("c7"))
               .sort("__n")
               .select("payout_id", pl.concat_str([f"c{n}" for n in range(1, 8)], separator=" ",
                                                   ignore_nulls=True).alias("failed")))
    result = checked.collect()
    # No failed check: an empty cell, as the csv module writes it (not "" for an empty string).
    result.with_columns(pl.when(pl.col("failed") != "").then("failed")).write_csv(out, null_value="")
    return int((result["failed"] != "").sum())


def with_python(data: Path, out: Path) -> int:
    def rows(name: str) -> csv.DictReader[str]:
        return csv.DictReader((data / f"{name}.csv").open(encoding="utf-8", newline=""))

    people = {row["person_id"] for row in rows("people")}
    mentees: dict[tuple[str, str], set[str]] = defaultdict(set)
    covering: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for row in rows("pairings"):
        if row["program"] == "NM_PILOT" and row["status"] in COUNTING:
            mentees[row["mentor_id"], row["school_year"]].add(row["mentee_id"])
            covering[row["mentor_id"], "mentor"].append((row["start_date"], row["end_date"]))
            covering[row["mentee_id"], "mentee"].append((row["start_date"], row["end_date"]))
    sessions: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for row in rows("attendance"):
        if row["attended"] == "true":
            sessions[row["person_id"], row["school_year"], row["program"]].add(row["session_id"])
    payouts = list(rows("payouts"))
    ids: dict[str, int] = defaultdict(int)
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for row in payouts:
        ids[row["payout_id"]] += 1
        if row["program"] == "NM_PILOT" and row["role"] in CAP:
            with contextlib.suppress(ArithmeticError):
                totals[row["payee_id"], row["role"], row["school_year"]] += Decimal(row["amount"])
    failing = 0
    with out.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["payout_id", "failed"])
        for row in payouts:
            failed = []
            try:
                amount = Decimal(row["amount"])
                exponent = amount.as_tuple().exponent
                if not (amount > 0 and isinstance(exponent, int) and exponent >= -2):
                    failed.append("AMOUNT")
            except ArithmeticError:
                failed.append("AMOUNT")
            if row["payee_id"] not in people:
                failed.append("PAYEE")
            if ids[row["payout_id"]] > 1:
                failed.append("UNIQUE")
            pilot = row["program"] == "NM_PILOT"
            key = (row["payee_id"], row["role"], row["school_year"])
            if pilot and row["role"] in CAP and totals[key] > CAP[row["role"]]:
                failed.append("CAP")
            if pilot and len(mentees.get((row["payee_id"], row["school_year"]), ())) > MAX_MENTEES:
                failed.append("MENTEES")
            start = row["service_start"] or row["pay_date"]
            end = row["service_end"] or row["pay_date"]
            if pilot and not any(s <= start and (not e or e >= end)
                                 for s, e in covering.get((row["payee_id"], row["role"]), ())):
                failed.append("PAIRING")
            installment = row["installment"]
            if pilot and installment.isdigit() and int(installment) >= INSTALLMENTS and \
                    len(sessions.get((row["payee_id"], row["school_year"], row["program"]), ())) < MIN_SESSIONS:
                failed.append("TRAINING")
            failing += bool(failed)
            writer.writerow([row["payout_id"], " ".join(failed)])
    return failing


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("polars", "python"):
        print(__doc__, file=sys.stderr)
        return 2
    how, data, out = argv
    failing = (with_polars if how == "polars" else with_python)(Path(data), Path(out))
    print(f"{how}: {failing} payouts fail a check")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
