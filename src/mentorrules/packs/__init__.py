"""Packs: finding the installed packs (pluggy entry points), the core pack, built-in functions.

Takes: the names asked for and extra rule folders. Gives: :class:`~mentorrules.packs.discovery.Pack`
values (rule, parameter and test files, functions, fields), or located problems.
"""
