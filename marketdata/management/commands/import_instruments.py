"""Import the instrument master: a KRX or KIS master CSV, KRX through pykrx, or the KRW crypto pairs."""

from __future__ import annotations

import re

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.translation import gettext as _

from marketdata import services
from marketdata.validation import DataFileError


class Command(BaseCommand):
    help = (
        "Create or update instruments (by code, never duplicated) from --csv PATH, --pykrx or --crypto; "
        "everything given is imported in one transaction. See --csv for the accepted columns."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--csv", dest="csv_path", metavar="PATH", help="instrument master CSV. " + services.INSTRUMENT_COLUMNS_HELP
        )
        parser.add_argument("--pykrx", action="store_true", help=(
            "list KOSPI/KOSDAQ/KONEX stocks from KRX through pykrx (needs network; pykrx signs in to "
            "data.krx.co.kr with KRX_ID/KRX_PW from the environment when they are set)"
        ))
        parser.add_argument("--date", metavar="YYYYMMDD", help="with --pykrx: the trading day whose listing to use")
        parser.add_argument(
            "--crypto", action="store_true", help="add the KRW crypto pairs (KRW-BTC, KRW-ETH, KRW-XRP, KRW-SOL)"
        )

    def handle(self, *args, csv_path: str | None, pykrx: bool, date: str | None, crypto: bool, **options) -> None:
        if not (csv_path or pykrx or crypto):
            raise CommandError(_("Nothing to import: give --csv PATH, --pykrx or --crypto."))
        if date and not pykrx:
            raise CommandError(_("--date only applies to --pykrx."))
        if date and not re.fullmatch(r"\d{8}", date):
            raise CommandError(_("--date must be YYYYMMDD, got {date}.").format(date=date))
        results = []
        try:
            with transaction.atomic():
                if csv_path:
                    results.append((csv_path, services.instruments_import_csv(path=csv_path)))
                if pykrx:
                    results.append(("pykrx", services.instruments_import_pykrx(day=date)))
                if crypto:
                    results.append(("crypto", services.instruments_import_crypto()))
        except DataFileError as exc:
            raise CommandError(str(exc)) from exc
        except services.InstrumentSourceUnavailable as exc:
            raise CommandError(exc.message) from exc
        for source, result in results:
            line = _("{source}: {created} created, {updated} updated").format(
                source=source, created=result.created, updated=result.updated
            )
            if result.ignored:
                line += _(", {ignored} rows of other kinds ignored").format(ignored=result.ignored)
            self.stdout.write(line)
