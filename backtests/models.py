"""Backtest runs and parameter sweeps: what was run, its state, and its summary metrics.

A run freezes everything it ran (type and parameters as they were, universe, period, capital,
costs, fill rule, risk options, data coverage, engine version), so editing the strategy later never
changes an old result. The summary metrics are columns (sorting, filtering); the series, trades and
signals live in a compact file in Django storage (``backtests.results``), read lazily.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.models import BaseModel


class RunStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
FINAL_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


class Fill(models.TextChoices):
    NEXT_OPEN = "next_open", _("Next bar's open")
    CLOSE = "close", _("Same bar's close")


class Accounts(models.TextChoices):
    SHARED = "shared", _("One shared account")
    INDEPENDENT = "independent", _("One account per symbol")


class BacktestSpec(models.Model):
    """The frozen inputs of a backtest, shared by runs and sweeps."""

    title = models.CharField(_("title"), max_length=160)
    strategy_type = models.CharField(_("strategy type"), max_length=64, db_index=True)
    params = models.JSONField(_("parameters"), default=dict)
    codes = models.JSONField(_("symbols"), default=list)
    # " 005930 000660 ": lets every database filter runs by symbol with a plain `contains`
    universe = models.TextField(editable=False, default="")
    start = models.DateField(_("start"))
    end = models.DateField(_("end"))
    cash = models.BigIntegerField(_("capital (KRW)"))
    commission = models.DecimalField(_("commission rate"), max_digits=8, decimal_places=6)
    sell_tax = models.DecimalField(
        _("sell tax rate"), max_digits=8, decimal_places=6, null=True, blank=True,
        help_text=_("Empty: the statutory rate by market and date."),
    )
    slippage_bps = models.DecimalField(_("slippage (bp)"), max_digits=7, decimal_places=2, default=0)
    fill = models.CharField(_("fill"), max_length=16, choices=Fill.choices, default=Fill.NEXT_OPEN)
    accounts = models.CharField(_("accounts"), max_length=16, choices=Accounts.choices, default=Accounts.SHARED)
    # sizing, max_positions, stop_loss, take_profit, trailing_stop, max_holding_days (fractions)
    options = models.JSONField(_("risk options"), default=dict)

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        self.universe = " " + " ".join(self.codes) + " " if self.codes else ""
        super().save(*args, **kwargs)


class BacktestSweep(BacktestSpec, BaseModel):
    """A grid over one or two parameters of a strategy type, run as a Celery group of chunks."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_sweeps")
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="backtest_sweeps",
    )
    x_param = models.CharField(max_length=64)
    x_values = models.JSONField(default=list)
    y_param = models.CharField(max_length=64, blank=True, default="")
    y_values = models.JSONField(default=list)
    metric = models.CharField(max_length=32, default="sharpe")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True)
    chunks = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    cells_total = models.PositiveIntegerField(default=0)
    cells_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    submission_key = models.CharField(max_length=64, blank=True, default="")
    engine_version = models.CharField(max_length=32, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "submission_key"], condition=~Q(submission_key=""),
                name="backtest_sweep_submission_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.x_param}{' x ' + self.y_param if self.y_param else ''})"

    @property
    def progress(self) -> int:
        return int(100 * self.cells_done / self.cells_total) if self.cells_total else 0


class SweepCell(models.Model):
    """One parameter combination of a sweep and its metrics."""

    sweep = models.ForeignKey(BacktestSweep, on_delete=models.CASCADE, related_name="cells")
    x_index = models.PositiveIntegerField()
    y_index = models.PositiveIntegerField(default=0)
    params = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    error = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["y_index", "x_index"]
        constraints = [
            models.UniqueConstraint(fields=["sweep", "x_index", "y_index"], name="sweep_cell_once"),
        ]


class BacktestRun(BacktestSpec, BaseModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_runs")
    strategy = models.ForeignKey(
        "strategies.Strategy", on_delete=models.SET_NULL, null=True, blank=True, related_name="backtest_runs",
    )
    sweep = models.ForeignKey(BacktestSweep, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs")
    status = models.CharField(
        _("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED, db_index=True,
    )
    progress = models.PositiveSmallIntegerField(_("progress %"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    coverage = models.JSONField(_("data coverage"), default=dict)
    engine_version = models.CharField(_("engine version"), max_length=32, default="")
    task_id = models.CharField(max_length=64, blank=True, default="")
    submission_key = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_s = models.FloatField(_("engine seconds"), null=True, blank=True)

    # summary metrics (fractions: 0.12 is +12 %)
    total_return = models.FloatField(_("total return"), null=True, blank=True)
    cagr = models.FloatField(_("CAGR"), null=True, blank=True)
    max_drawdown = models.FloatField(_("max drawdown"), null=True, blank=True)
    sharpe = models.FloatField(_("Sharpe"), null=True, blank=True)
    sortino = models.FloatField(_("Sortino"), null=True, blank=True)
    win_rate = models.FloatField(_("win rate"), null=True, blank=True)
    avg_trade_return = models.FloatField(_("average trade return"), null=True, blank=True)
    trades = models.PositiveIntegerField(_("trades"), null=True, blank=True)
    exposure = models.FloatField(_("exposure"), null=True, blank=True)
    final_equity = models.FloatField(_("final equity"), null=True, blank=True)
    benchmark_return = models.FloatField(_("buy-and-hold return"), null=True, blank=True)
    result_file = models.FileField(upload_to="backtests/", max_length=255, blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["owner", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "submission_key"], condition=~Q(submission_key=""),
                name="backtest_run_submission_once",
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="backtest_run_progress_le_100"),
            models.CheckConstraint(condition=Q(end__gte=models.F("start")), name="backtest_run_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def wall_seconds(self) -> float | None:
        """Queued-to-finished time."""
        if self.finished_at is None or self.created_at is None:
            return None
        return (self.finished_at - self.created_at).total_seconds()
