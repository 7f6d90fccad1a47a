"""Loading: rule and parameter files -> a checked rule book.

Takes: packs. Gives: a :class:`~mentorrules.loading.rulebook.RuleBook` whose expressions passed the
whitelist checker, whose tables, parameters and functions are known, with every problem located
at file:line:column; and (:mod:`~mentorrules.loading.analysis`) what each rule reads.
"""
