"""``manage.py replay_deployment <id> [--fast]``: replay a paper deployment over its stored bars
(``trading.live.replay``).

Without ``--fast`` it starts the paced replay (the Celery task plays one day every
``REPLAY_SECONDS_PER_DAY`` seconds): a worker must reach the task through the task broker (the full
stack; in embedded mode start the replay on the deployment page instead). With ``--fast`` every
remaining day is played here at once and the drift report's totals are printed.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from core.errors import ApplicationError
from trading.live import replay
from trading.live.models import Deployment


class Command(BaseCommand):
    help = "Replay a paper deployment (replay=True) over its stored bars on a simulated clock."

    def add_arguments(self, parser) -> None:
        parser.add_argument("deployment_id", type=int)
        parser.add_argument("--fast", action="store_true", help="play every remaining day now, in this process")

    def handle(self, *args, deployment_id: int, fast: bool, **options) -> None:
        deployment = Deployment.objects.select_related("account").filter(pk=deployment_id).first()
        if deployment is None:
            raise CommandError(f"no deployment {deployment_id}")
        try:
            deployment = replay.replay_begin(actor=replay.REPLAYER, deployment=deployment, paced=not fast)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        if not fast:
            self.stdout.write(f"replay of deployment {deployment.pk} started: one day every "
                              f"{replay.seconds_per_day():g} s (a Celery worker plays it)")
            return
        for done in replay.replay_run(deployment=deployment):
            self.stdout.write(f"{done.day}: {done.orders} orders sent, {done.fills} fills")
        from trading.live.drift import drift_report

        totals = drift_report(deployment).totals
        self.stdout.write(f"drift: {totals.engine_trades} backtest trades, {totals.live_trades} filled, "
                          f"{totals.matched} matched, {totals.late} late, {totals.missed} missed, "
                          f"{totals.extra} extra, slippage {totals.slippage_value:,.0f} KRW")
