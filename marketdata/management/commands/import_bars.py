"""Import daily bars into the bar store from CSV/Parquet files or folders, or from a data provider."""

from __future__ import annotations

import datetime as dt
import sys

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from marketdata import services
from marketdata.store import BarStore
from marketdata.validation import DataFileError

PROGRESS_BAR_ABOVE = 20  # files; fewer finish before a bar would be worth reading


class Command(BaseCommand):
    help = (
        "Check, then import daily bars into the bar store (MARKET_DATA_ROOT). Files are CSV or Parquet "
        "with columns date,open,high,low,close,volume[,value] (or 날짜,시가,고가,저가,종가,거래량[,거래대금]), "
        "named <code>.csv / <code>.parquet. Every file is checked first; with any problem nothing is written."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="*", help="bar files, or folders of *.csv / *.parquet files")
        parser.add_argument("--code", help="instrument code of a single file whose name is not the code")
        parser.add_argument(
            "--skip-bad-rows", action="store_true", help="drop invalid rows (and report them) instead of failing"
        )
        parser.add_argument("--progress", action="store_true", help="always show a progress bar")
        parser.add_argument("--provider", help="fetch from this market-data provider (pykrx, kis, ...), not files")
        parser.add_argument("--codes", help="with --provider: comma-separated codes, e.g. 005930,000660")
        parser.add_argument("--start", type=dt.date.fromisoformat, help="with --provider: first date, YYYY-MM-DD")
        parser.add_argument(
            "--end", type=dt.date.fromisoformat, help="with --provider: last date, YYYY-MM-DD (default today)"
        )

    def handle(self, *args, paths: list[str], code: str | None, skip_bad_rows: bool, progress: bool,
               provider: str | None, codes: str | None, start: dt.date | None, end: dt.date | None, **options) -> None:
        store = BarStore(settings.MARKET_DATA_ROOT)
        bar = _ProgressBar(always=progress, stream=self.stderr)
        try:
            if provider:
                summary = self._from_provider(provider, paths, codes, start, end, store, skip_bad_rows, bar)
            else:
                if not paths:
                    raise CommandError(_("Give bar files or folders to import, or --provider with --codes."))
                if codes or start or end:
                    raise CommandError(_("--codes, --start and --end only apply to --provider."))
                summary = services.bars_import_paths(
                    paths=paths, store=store, code=code, skip_bad_rows=skip_bad_rows, progress=bar.update
                )
        except DataFileError as exc:
            raise CommandError(_("Nothing was imported.") + "\n" + str(exc)) from exc
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        store.refresh_snapshots()
        self._report(summary)

    def _from_provider(self, provider, paths, codes, start, end, store, skip_bad_rows, bar):
        if paths:
            raise CommandError(_("Give either files or --provider, not both."))
        wanted = [c.strip().upper() for c in (codes or "").split(",") if c.strip()]
        if not wanted or start is None:
            raise CommandError(_("--provider needs --codes and --start."))
        return services.bars_import_provider(
            provider=provider, codes=wanted, start=start, end=end or dt.date.today(),
            store=store, skip_bad_rows=skip_bad_rows, progress=bar.update,
        )

    def _report(self, summary: services.ImportSummary) -> None:
        for problem in summary.skipped:
            self.stdout.write(_("skipped {problem}").format(problem=problem))
        span = f"{summary.first} … {summary.last}" if summary.first else "-"
        self.stdout.write(
            _("Imported {symbols} symbols, {rows} rows ({added} new, {replaced} replaced), {span}; "
              "{gaps} gaps found; {skipped} rows skipped.").format(
                symbols=len(summary.symbols), rows=summary.rows, added=summary.rows_added,
                replaced=summary.rows_replaced, span=span, gaps=summary.gaps, skipped=len(summary.skipped),
            )
        )


class _ProgressBar:
    """A tqdm bar over checking + writing, opened on the first update once the size is known."""

    def __init__(self, *, always: bool, stream) -> None:
        self.always = always
        self.stream = stream
        self.bar = None
        self.stage = None

    def update(self, stage: str, done: int, total: int) -> None:
        if not (self.always or total > PROGRESS_BAR_ABOVE):
            return
        from tqdm import tqdm

        if self.bar is None or stage != self.stage:
            self.close()
            self.bar = tqdm(total=total, desc=stage, unit="file", file=getattr(self.stream, "_out", sys.stderr))
            self.stage = stage
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
