"""The postal directory: the zip codes that exist, which an operator may give the service so that a read of a
code that does not exist is sent to manual sorting instead of accepted.

Mail is addressed to codes that exist, and a misread digit mostly makes one that does not: of the 100,000
five-digit codes the United States uses 41,749 (tools/us_zip_codes.py), and a hub's own region far fewer. Postal
recognisers check their reads against the directory for that reason; this one checks the five-digit code
(the first five digits of a ZIP+4), which is what a directory of sorting destinations lists.

The file: one five-digit code per line; blank lines and lines starting with # are skipped, and anything
after the code on its line (a comma, a tab, a place name) is ignored, so a CSV export whose first column is
the code can be given as it is."""
from __future__ import annotations

import math
import re
from itertools import product
from pathlib import Path

CODE_LENGTH = 5
_CODE_AT_START = re.compile(r"\s*(\d+)(?:[\s,;].*)?$")
MAX_ERRORS_SHOWN = 3


class DirectoryError(ValueError):
    """The directory file cannot be used; the message names the file and the lines at fault."""


class CodeDirectory:
    def __init__(self, codes: set[str]):
        self.codes = frozenset(codes)

    def __len__(self) -> int:
        return len(self.codes)

    def knows(self, zip_code: str) -> bool:
        """Whether a read code (12345 or 12345-6789) is in the directory, by its first five digits."""
        return zip_code[:CODE_LENGTH] in self.codes

    def most_probable(self, alternatives: list[list[tuple[int, float]]]) -> tuple[str, float] | None:
        """The directory's code that the first five digits' alternatives ((digit, probability), a few per
        digit) make most probable, and that probability (the product); None if no combination is in it.
        Of 129 unknown codes read wrong in 10,000 realistic fields addressed to US codes, this was the
        written code for 86 (docs/benchmarks.md)."""
        best = None
        for combination in product(*alternatives[:CODE_LENGTH]):
            code = "".join(str(digit) for digit, _ in combination)
            if code in self.codes:
                probability = math.prod(share for _, share in combination)
                if best is None or probability > best[1]:
                    best = (code, probability)
        return best


def load_directory(path: str | Path) -> CodeDirectory:
    """The codes in a directory file (see the module's docstring); DirectoryError if it cannot be read, has
    a line that does not start with a five-digit code, or lists none."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's export may start with a BOM
    except (OSError, UnicodeDecodeError) as error:
        raise DirectoryError(f"{path}: cannot read the directory of valid codes ({error})") from error
    codes, faults = set(), []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _CODE_AT_START.match(line)
        if match and len(match.group(1)) == CODE_LENGTH:
            codes.add(match.group(1))
        else:
            faults.append(f"line {number}: {line.strip()[:40]!r}")
    if faults:
        shown = "; ".join(faults[:MAX_ERRORS_SHOWN]) + (f"; and {len(faults) - MAX_ERRORS_SHOWN} more"
                                                          if len(faults) > MAX_ERRORS_SHOWN else "")
        raise DirectoryError(f"{path}: every line must start with a {CODE_LENGTH}-digit zip code "
                             f"(# for comments): {shown}")
    if not codes:
        raise DirectoryError(f"{path}: no zip codes in the directory; give one {CODE_LENGTH}-digit code per line")
    return CodeDirectory(codes)
