"""Inputs: data files (CSV, JSON, JSONL, XLSX) -> typed rows.

Takes: paths or in-memory tables and the table contracts. Gives: a
:class:`~mentorrules.inputs.reading.DataSet` whose rows are typed records (Decimal money, dates),
or rows that could not be read, each with its problems; never drops a row.
"""
