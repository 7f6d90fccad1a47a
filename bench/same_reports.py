"""Do two installs of mentorrules write the same reports? Byte for byte, in every format.

    python bench/same_reports.py BEFORE_BIN AFTER_BIN DATA [DATA ...] [-- EXTRA VALIDATE ARGS]

BEFORE_BIN and AFTER_BIN are ``mentorrules`` executables (say, of a venv built from the last
release and of this tree). Used to show that a refactoring changed no report; exit 1 on any
difference, naming the data set and format.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path

FORMATS = ("table", "json", "csv", "html", "xlsx")


def digest(binary: str, data: str, fmt: str, extra: list[str], folder: Path) -> str:
    out = folder / f"report.{fmt}"
    command = [binary, "validate", data, "--format", fmt, "--output", str(out), "--as-of", "2026-01-01", *extra]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode not in (0, 1):
        return f"exit {done.returncode}: {done.stderr.decode(errors='replace')[:200]}"
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv: list[str]) -> int:
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    before, after, *datasets = argv
    differ = 0
    with tempfile.TemporaryDirectory() as scratch:
        for data in datasets:
            for fmt in FORMATS:
                one, two = (digest(binary, data, fmt, extra, Path(tempfile.mkdtemp(dir=scratch)))
                            for binary in (before, after))
                same = one == two
                differ += not same
                print(f"{'same' if same else 'DIFFERENT':9} {fmt:5} {data}" + ("" if same else f"  {one} != {two}"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
