"""Every CSV file the platform writes goes through :class:`Writer`, which keeps cells from running as formulas.

A spreadsheet (Excel, which Korean users open our files in, LibreOffice, Google Sheets) runs a cell
beginning with ``=``, ``+``, ``-`` or ``@`` as a formula, and tab or carriage return can smuggle one
in: an instrument named ``=HYPERLINK(...)`` would become a live link. Such a text cell is written
with a leading apostrophe, which the spreadsheet shows as text (OWASP "CSV injection"). Numbers,
negative ones included, are written as they are: ``-1.5`` stays a number a user can sum.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

BOM = "\ufeff"  # Excel reads UTF-8 (Korean names) only when the file starts with it
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, or text a spreadsheet will not evaluate. Non-text values (numbers, None) pass as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


class Writer:
    """``csv.writer`` whose rows are made safe cell by cell."""

    def __init__(self, handle, *, lineterminator: str = "\r\n") -> None:
        self._writer = csv.writer(handle, lineterminator=lineterminator)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_bytes(header: list[str], rows: Iterable[Iterable[Any]], *, lineterminator: str = "\r\n") -> bytes:
    """A whole file: the BOM, the header and the rows, UTF-8."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = Writer(buffer, lineterminator=lineterminator)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")
