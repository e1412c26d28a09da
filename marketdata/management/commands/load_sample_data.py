"""Load the shipped sample market data (marketdata/sample_data/); a second run does nothing."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from marketdata import services
from marketdata.store import BarStore
from marketdata.validation import DataFileError


class Command(BaseCommand):
    help = (
        "Load the sample data shipped in marketdata/sample_data (KRX instrument master, KRW crypto pairs, "
        "daily bars of 005930, 000660, 005380, 035420, 035720 and KRW-BTC). Idempotent: existing "
        "instruments are left alone and bar files already covered by the store are skipped."
    )

    def handle(self, *args, **options) -> None:
        try:
            result = services.sample_data_load(store=BarStore(settings.MARKET_DATA_ROOT))
        except DataFileError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            _("Sample data: {instruments} instruments created, {written} bar files written "
              "({rows} rows), {present} already present.").format(
                instruments=result.instruments_created, written=result.bar_files_written,
                rows=result.rows_written, present=result.bar_files_present,
            )
        )
