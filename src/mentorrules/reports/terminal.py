"""Text for a terminal -> text that cannot drive the terminal.

A payout id, a file name or a message can hold control characters: an escape sequence
(``ESC [2J`` clears the screen, OSC sequences set the title or write hyperlinks), a carriage
return that overwrites a line, a right-to-left override that reorders it, or a lone surrogate
that no encoding can write. Every text report and every line the command prints shows them
escaped, as Python writes them (``\\x1b``, ``\\u202e``, ``\\ud800``), never raw.
"""

from __future__ import annotations

import io
import re
from typing import TextIO

__all__ = ["EscapingStream", "printable"]

# C0 and C1 controls, DEL, bidirectional overrides and isolates, and surrogates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_IN_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    return ascii(match.group())[1:-1]


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with every control character escaped; with ``lines``, line breaks and tabs kept.

    >>> printable("P-1\\x1b]0;owned\\x07"), printable("a\\nb"), printable("a\\nb", lines=True)
    ('P-1\\\\x1b]0;owned\\\\x07', 'a\\\\nb', 'a\\nb')
    >>> printable("ok \\u202eexe.txt \\ud800")
    'ok \\\\u202eexe.txt \\\\ud800'
    """
    if text.isprintable():
        return text
    return (_UNSAFE_IN_LINES if lines else _UNSAFE).sub(_escaped, text)


class EscapingStream(io.TextIOBase):
    """A text stream that writes through to ``stream`` with control characters escaped (line
    breaks and tabs kept): what the command prints to a terminal or a pipe goes through one."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__()
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text, lines=True))
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8") or "utf-8"
