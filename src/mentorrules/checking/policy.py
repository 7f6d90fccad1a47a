"""A checked rule book, compiled once: what every way of checking shares.

Takes the :class:`~mentorrules.loading.rulebook.RuleBook` that loading gives; gives the row
evaluator, the batch rules and what each rule reads. The engine holds one; sessions and the
checking of a whole data set read from it and never change it (it is safe to share between
threads).
"""

from __future__ import annotations

from collections.abc import Mapping

from mentorrules.checking.batch import BatchRule
from mentorrules.checking.evaluation import Evaluator
from mentorrules.loading.analysis import columns_read, linking_columns, tables_read
from mentorrules.loading.rulebook import RuleBook
from mentorrules.loading.tables import Table


class Policy:
    """The compiled form of a rule book.

    ``columns_read`` is, per table, every column a rule, a relation or the engine reads;
    ``tables_read``, per rule, the tables it needs; ``linking``, per table, the columns that
    link rows of tables.
    """

    def __init__(self, book: RuleBook) -> None:
        self.book = book
        self.evaluator = Evaluator(book)
        self.batch_rules = tuple(BatchRule(book, rule, self.evaluator.tables[rule.table].relate)
                                 for rule in book.rules if rule.batch is not None)
        self.columns_read = columns_read(book)
        self.tables_read = tables_read(book)
        self.linking = linking_columns(book)

    @property
    def tables(self) -> Mapping[str, Table]:
        return self.book.tables
