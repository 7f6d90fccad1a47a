"""Report -> text, JSON, CSV. One module per format; each has ``write(report, stream, ...)``.

Every format shows every input row exactly once, in input order.
"""

from __future__ import annotations

from typing import Final

FORMATS: Final = ("table", "json", "csv", "html", "xlsx")
