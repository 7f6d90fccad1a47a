"""Checking: a compiled rule book and typed rows -> a decision per row.

Takes: a :class:`~mentorrules.checking.policy.Policy` (the compiled rule book) and a data set.
Gives: :class:`~mentorrules.model.Decision` values in input order, group records for batch rules,
and explanations. Row rules run as generated code (:mod:`codegen`), batch rules over groups
(:mod:`batch`), a whole data set in passes (:mod:`validation`).
"""
