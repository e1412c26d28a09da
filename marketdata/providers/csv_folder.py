"""Bars from a folder of files named ``<code>.csv`` (or ``<code>.parquet``), e.g. a vendor drop.

Files are parsed and checked by ``marketdata.validation.read_bar_file`` (one bad row fails the
file, with every problem listed). Pure module: no Django imports.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .base import DataProvider, ProviderBars, ProviderError

SUFFIXES = (".csv", ".parquet")
PROBLEMS_SHOWN = 3


class CsvFolderProvider(DataProvider):
    """Reads ``folder/<code>.csv`` (falls back to ``.parquet``); never cached."""

    name = "csv"
    cacheable = False

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def daily_bars(self, code: str, start: date, end: date) -> ProviderBars:
        """Raises ``ProviderError``: permanent for a missing or invalid file or no rows in the range."""
        from marketdata.validation import BarFileError, read_bar_file

        path = self._path(code)
        try:
            parsed = read_bar_file(path, code=code)
        except BarFileError as exc:
            problems = [str(problem) for problem in exc.problems[:PROBLEMS_SHOWN]]
            more = len(exc.problems) - len(problems)
            summary = "; ".join(problems) + (f"; and {more} more" if more > 0 else "")
            raise ProviderError(f"{path.name} is invalid: {summary or exc}", permanent=True) from None
        except OSError as exc:
            raise ProviderError(f"cannot read {path.name}: {type(exc).__name__}", permanent=False) from None
        rows = parsed.rows
        bars = ProviderBars.build(
            rows["date"], rows["open"], rows["high"], rows["low"], rows["close"], rows["volume"],
            value=rows.get("value"),
        ).between(start, end)
        if not len(bars):
            raise ProviderError(f"no bars in {path.name} between {start} and {end}", permanent=True)
        return bars

    def _path(self, code: str) -> Path:
        if "/" in code or "\\" in code or code.startswith("."):
            raise ProviderError(f"invalid code {code!r}", permanent=True)
        for suffix in SUFFIXES:
            path = self.folder / f"{code}{suffix}"
            if path.is_file():
                return path
        raise ProviderError(f"no file {code}.csv in the CSV folder {self.folder}", permanent=True)
