"""Authoring: the administrator's commands, named after them: test, lint, docs, new-pack
(:mod:`scaffold`), diff (:mod:`impact`).

Takes: a loaded engine and pack folders. Gives: results the CLI prints.
"""
