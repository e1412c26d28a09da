"""A run that changed or was deleted is forgotten by the edge cache of this process at once."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from backtests.models import BacktestRun
from core import edge


@receiver([post_save, post_delete], sender=BacktestRun)
def forget_kept_run(sender, instance: BacktestRun, **kwargs) -> None:
    edge.forget_tag(f"backtest:{instance.pk}")
