"""Models of trading: broker accounts (this issue); orders, fills and positions come next.

A ``BrokerAccount`` is one user's account at KIS, Kiwoom or the platform's paper broker. Its app
key and secret are encrypted at rest (``core.crypto``: Fernet, ``FIELD_ENCRYPTION_KEYS`` newest
first; ``manage.py rotate_field_keys`` re-encrypts after a new key is prepended). Nothing here
ever returns the secret in a string form, and the account number is shown masked except to its
owner's account page.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core import crypto
from core.models import BaseModel
from trading.brokers.base import Credentials, Environment, masked_account


class BrokerKind(models.TextChoices):
    KIS = "kis", _("Korea Investment & Securities (KIS)")
    KIWOOM = "kiwoom", _("Kiwoom Securities")
    PAPER = "paper", _("Paper (virtual money)")


class BrokerEnvironment(models.TextChoices):
    REAL = "real", _("Real money")
    MOCK = "mock", _("Mock trading (모의투자)")


class AccountStatus(models.TextChoices):
    PENDING = "pending", _("Not verified yet")
    VERIFIED = "verified", pgettext_lazy("broker account status", "Verified")
    FAILED = "failed", _("Verification failed")
    DISABLED = "disabled", _("Disabled")


class BrokerAccount(BaseModel):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="broker_accounts")
    broker = models.CharField(max_length=10, choices=BrokerKind.choices)
    environment = models.CharField(max_length=5, choices=BrokerEnvironment.choices, default=BrokerEnvironment.MOCK)
    account_no = models.CharField(
        max_length=10, blank=True,
        help_text=_("KIS: CANO (8 digits) + ACNT_PRDT_CD (2 digits); Kiwoom: 10 digits; empty for paper."),
    )
    hts_id = models.CharField(max_length=32, blank=True, help_text=_("KIS HTS ID (execution notices need it)."))
    nickname = models.CharField(max_length=60)
    app_key_encrypted = models.TextField(blank=True, editable=False)
    app_secret_encrypted = models.TextField(blank=True, editable=False)
    app_key_last4 = models.CharField(max_length=4, blank=True, editable=False)
    # a non-secret name of the app key (sha256 prefix): accounts sharing a key share its token
    app_key_id = models.CharField(max_length=16, blank=True, db_index=True, editable=False)
    status = models.CharField(max_length=10, choices=AccountStatus.choices, default=AccountStatus.PENDING, db_index=True)
    status_code = models.CharField(max_length=32, blank=True)
    status_reason = models.CharField(max_length=300, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    # The last balance read (shown on the list page without calling the broker on every visit).
    balance_snapshot = models.JSONField(default=dict, blank=True, editable=False)
    balance_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Paper accounts: the virtual cash the account started with.
    paper_initial_cash = models.DecimalField(max_digits=18, decimal_places=0, null=True, blank=True)
    # The owner's own caps for this account (empty: the platform's defaults, ``trading.risk``); a
    # setting can only lower the default.
    max_order_value = models.DecimalField(
        max_digits=18, decimal_places=0, null=True, blank=True,
        help_text=_("Largest value of one order in KRW; empty for the platform's limit."))
    max_position_share = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True,
        help_text=_("Largest share of the account one symbol may reach, in percent; empty for no cap."))

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "broker", "environment", "account_no"],
                condition=~models.Q(broker="paper"),
                name="broker_account_unique_per_owner",
            ),
        ]
        verbose_name = _("broker account")
        verbose_name_plural = _("broker accounts")

    def __str__(self) -> str:
        return f"{self.nickname} ({self.get_broker_display()}, {self.masked_account_no})"

    @property
    def masked_account_no(self) -> str:
        if self.broker == BrokerKind.PAPER:
            return _("paper")
        return masked_account(self.account_no)

    @property
    def formatted_account_no(self) -> str:
        """The full number as ``12345678-01``: only for the owner's own account page."""
        return f"{self.account_no[:8]}-{self.account_no[8:]}" if len(self.account_no) == 10 else self.account_no

    @property
    def masked_app_key(self) -> str:
        return f"…{self.app_key_last4}" if self.app_key_last4 else ""

    @property
    def is_paper(self) -> bool:
        return self.broker == BrokerKind.PAPER

    def set_keys(self, *, app_key: str, app_secret: str) -> None:
        self.app_key_encrypted = crypto.encrypt(app_key)
        self.app_secret_encrypted = crypto.encrypt(app_secret)
        self.app_key_last4 = app_key[-4:]
        self.app_key_id = Credentials(app_key=app_key, app_secret="").key_id

    def credentials(self) -> Credentials:
        """Decrypted credentials for a broker client (never logged or rendered)."""
        return Credentials(
            app_key=crypto.decrypt(self.app_key_encrypted) if self.app_key_encrypted else "",
            app_secret=crypto.decrypt(self.app_secret_encrypted) if self.app_secret_encrypted else "",
            account_no=self.account_no,
            hts_id=self.hts_id,
            environment=Environment(self.environment),
        )


class RequestWindow(models.Model):
    """Embedded mode's shared request budget: recent request starts per app key (one row per key).

    The full stack keeps the same sliding window in Redis; see ``trading/sharing.py``.
    """

    key = models.CharField(max_length=80, unique=True)
    starts = models.JSONField(default=list)
    priority_waiting_until = models.FloatField(default=0.0)

    class Meta:
        verbose_name = _("request window")


ZERO = Decimal(0)

# The paper broker's book lives in its own module; imported here so Django finds its models.
from trading.paper.models import *  # noqa: E402,F401,F403
from trading.orders.models import *  # noqa: E402,F401,F403
from trading.live.models import *  # noqa: E402,F401,F403
