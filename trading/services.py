"""Writes of trading: connect, verify, rotate, rename and delete broker accounts, set their limits;
connection checks.

Every action takes a keyword-only ``actor`` (``core.audit.Actor``), runs its database writes in one
transaction with an audit row, and publishes its event on commit. Broker calls (network) happen
before the transaction, so no lock is held while a broker answers.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _t
from django.utils.translation import gettext_lazy as _

from core import events
from core.audit import Actor, audit_record
from core.errors import ApplicationError
from trading import connections, health, messages
from trading.risk import DEFAULT_MAX_ORDER_VALUE, amount
from trading.brokers.base import Balance, BrokerClient, BrokerError, Credentials, Environment, masked_account
from trading.models import AccountStatus, BrokerAccount, BrokerEnvironment, BrokerKind

logger = logging.getLogger(__name__)

ACCOUNT_NO_FORMAT = _("Enter the 10-digit account number (KIS: 8 digits, then the 2-digit product code, e.g. 12345678-01).")
KIS_KEY_FORMAT = _("A KIS app key is 36 characters long.")
KIS_SECRET_FORMAT = _("A KIS app secret is 180 characters long.")
KEY_FORMAT = _("Paste the app key exactly as the broker's portal shows it (no spaces).")
SECRET_FORMAT = _("Paste the app secret exactly as the broker's portal shows it (no spaces).")
HTS_ID_FORMAT = _("The HTS ID has letters and digits only.")
NICKNAME_REQUIRED = _("Give the account a name.")
DUPLICATE_ACCOUNT = _("You have already connected this account.")
PAPER_CASH_RANGE = _("Virtual cash must be between 1,000,000 and 10,000,000,000 KRW.")
BROKER_UNKNOWN = _("Choose KIS or Kiwoom.")
PAPER_HAS_NO_KEYS = _("A paper account has no keys to rotate.")
HAS_OPEN_ORDERS = _("This account still has %(count)d open or unsettled orders: cancel them, or wait until they "
                    "are filled or settled, before deleting it.")
LIMIT_ORDER_VALUE_RANGE = _("The maximum order value must be a whole number of KRW above 0 and at most %(maximum)s KRW "
                            "(the platform's limit).")
LIMIT_SHARE_RANGE = _("The maximum position share must be a percentage above 0 and at most 100, with at most two "
                      "decimals.")

PAPER_CASH_MIN = Decimal(1_000_000)
PAPER_CASH_MAX = Decimal(10_000_000_000)


class BrokerRefused(ApplicationError):
    """The broker refused the verification; ``message`` is the user's sentence (``messages.explain``)."""

    code = "broker_refused"


# -- validation ------------------------------------------------------------------------------
def _clean_account_no(raw: str) -> str:
    digits = re.sub(r"[\s-]", "", raw or "")
    if not re.fullmatch(r"\d{10}", digits):
        raise ApplicationError(str(ACCOUNT_NO_FORMAT), field="account_no")
    return digits


def _clean_keys(broker: str, app_key: str, app_secret: str) -> tuple[str, str]:
    app_key, app_secret = (app_key or "").strip(), (app_secret or "").strip()
    if broker == BrokerKind.KIS:
        if len(app_key) != 36 or not app_key.isprintable() or " " in app_key:
            raise ApplicationError(str(KIS_KEY_FORMAT), field="app_key")
        if len(app_secret) != 180 or not app_secret.isprintable() or " " in app_secret:
            raise ApplicationError(str(KIS_SECRET_FORMAT), field="app_secret")
        return app_key, app_secret
    if not re.fullmatch(r"[\x21-\x7e]{8,200}", app_key):
        raise ApplicationError(str(KEY_FORMAT), field="app_key")
    if not re.fullmatch(r"[\x21-\x7e]{8,400}", app_secret):
        raise ApplicationError(str(SECRET_FORMAT), field="app_secret")
    return app_key, app_secret


def _clean_nickname(nickname: str) -> str:
    nickname = (nickname or "").strip()
    if not nickname:
        raise ApplicationError(str(NICKNAME_REQUIRED), field="nickname")
    return nickname[:60]


# -- verification ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Verification:
    balance: Balance | None
    error: BrokerError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _verify(client: BrokerClient) -> Verification:
    """A token, then the balance: the two calls every later action depends on."""
    try:
        client.ensure_token()
        # Kiwoom binds a key to one account and takes no account number: check it is the one typed
        # (KIS refuses a foreign account number in the balance call itself: OPSQ2000).
        check_account = getattr(client, "verify_account", None)
        if check_account is not None:
            check_account()
        return Verification(client.balance(), None)
    except BrokerError as exc:
        logger.info("verification failed: %s %s", type(exc).__name__, exc.code)
        return Verification(None, exc)


def balance_snapshot(balance: Balance) -> dict[str, Any]:
    """The balance as JSON (Decimals as strings), kept on the account for the pages."""
    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "deposit": text(balance.deposit),
        "orderable_cash": text(balance.orderable_cash),
        "settlement_d2": text(balance.settlement_d2),
        "total_evaluation": text(balance.total_evaluation),
        "securities_evaluation": text(balance.securities_evaluation),
        "profit_loss": text(balance.profit_loss),
        "positions": [
            {
                "symbol": p.symbol, "name": p.name, "quantity": text(p.quantity),
                "sellable_quantity": text(p.sellable_quantity), "average_price": text(p.average_price),
                "current_price": text(p.current_price), "evaluation": text(p.evaluation),
                "profit_loss": text(p.profit_loss), "profit_loss_rate": text(p.profit_loss_rate),
            }
            for p in balance.positions
        ],
    }


def _apply(account: BrokerAccount, outcome: Verification) -> None:
    now = timezone.now()
    account.last_checked_at = now
    if outcome.ok:
        account.status, account.status_code, account.status_reason = AccountStatus.VERIFIED, "", ""
        account.last_verified_at = now
        account.balance_snapshot = balance_snapshot(outcome.balance)  # type: ignore[arg-type]
        account.balance_at = now
    else:
        error = outcome.error
        assert error is not None
        account.status, account.status_code = AccountStatus.FAILED, (error.code or type(error).__name__)[:32]
        with translation.override("en"):
            account.status_reason = messages.explain(error)[:300]


def _state(account: BrokerAccount) -> dict[str, Any]:
    return {"status": account.status, "status_code": account.status_code, "nickname": account.nickname,
            "app_key": account.masked_app_key}


def _event_payload(account: BrokerAccount) -> dict[str, Any]:
    # "title" is what the dashboard's live list shows, in the owner's language
    with translation.override(getattr(account.owner, "language", None)):
        title = f"{account.nickname} · {account.get_status_display()}"
    return {"account_id": account.pk, "nickname": account.nickname, "broker": account.broker,
            "environment": account.environment, "status": account.status, "title": title}


# -- actions ---------------------------------------------------------------------------------
def broker_account_connect(
    *, actor: Actor, owner: Any, broker: str, environment: str, account_no: str, app_key: str, app_secret: str,
    nickname: str, hts_id: str = "",
) -> BrokerAccount:
    """Connect a KIS or Kiwoom account: formats checked, then verified with the broker (a token and the
    balance) before anything is saved. Raises ``ApplicationError`` naming the field at fault, or
    ``BrokerRefused`` with the broker's refusal as a clear sentence."""
    if broker not in (BrokerKind.KIS, BrokerKind.KIWOOM):
        raise ApplicationError(str(BROKER_UNKNOWN), field="broker")
    environment = BrokerEnvironment(environment)
    account_no = _clean_account_no(account_no)
    app_key, app_secret = _clean_keys(broker, app_key, app_secret)
    nickname = _clean_nickname(nickname)
    hts_id = (hts_id or "").strip()
    if hts_id and not re.fullmatch(r"[A-Za-z0-9_]{1,32}", hts_id):
        raise ApplicationError(str(HTS_ID_FORMAT), field="hts_id")
    if BrokerAccount.objects.filter(owner=owner, broker=broker, environment=environment, account_no=account_no).exists():
        raise ApplicationError(str(DUPLICATE_ACCOUNT), field="account_no")
    credentials = Credentials(app_key=app_key, app_secret=app_secret, account_no=account_no, hts_id=hts_id,
                              environment=Environment(environment))
    outcome = _verify(connections.client_for(broker, credentials))
    if not outcome.ok:
        raise BrokerRefused(messages.explain(outcome.error))  # type: ignore[arg-type]
    with transaction.atomic():
        account = BrokerAccount(owner=owner, broker=broker, environment=environment, account_no=account_no,
                                hts_id=hts_id, nickname=nickname)
        account.set_keys(app_key=app_key, app_secret=app_secret)
        _apply(account, outcome)
        account.save()
        audit_record(actor=actor, action="broker_account.connect", owner=owner, target=account,
                     after={**_state(account), "broker": broker, "environment": environment,
                            "account_no": masked_account(account_no)})
        events.publish(user_id=owner.pk, event="broker.verified", payload=_event_payload(account))
    return account


def broker_account_open_paper(*, actor: Actor, owner: Any, nickname: str, cash: Decimal | int | None = None) -> BrokerAccount:
    """Open a paper account with ``cash`` KRW of virtual money (default ``PAPER_DEFAULT_CASH``)."""
    from trading.paper.book import paper_book_open

    nickname = _clean_nickname(nickname)
    cash = Decimal(settings.PAPER_DEFAULT_CASH if cash in (None, "") else cash)
    if not (PAPER_CASH_MIN <= cash <= PAPER_CASH_MAX) or cash != cash.to_integral_value():
        raise ApplicationError(str(PAPER_CASH_RANGE), field="cash")
    with transaction.atomic():
        account = BrokerAccount.objects.create(
            owner=owner, broker=BrokerKind.PAPER, environment=BrokerEnvironment.MOCK, nickname=nickname,
            paper_initial_cash=cash, status=AccountStatus.VERIFIED, last_verified_at=timezone.now(),
        )
        paper_book_open(account=account, cash=cash)
        _apply(account, _verify(connections.broker_client(account)))  # its first balance, for the pages
        account.save()
        audit_record(actor=actor, action="broker_account.open_paper", owner=owner, target=account,
                     after={"nickname": nickname, "cash": str(cash)})
        events.publish(user_id=owner.pk, event="broker.verified", payload=_event_payload(account))
    return account


def broker_account_verify(*, actor: Actor, account: BrokerAccount, audit_always: bool = True) -> Verification:
    """Verify again (token + balance) and keep the balance for the pages. A user's own request is
    always audited; a scheduled check only when the status changes (``audit_always=False``)."""
    outcome = _verify(connections.broker_client(account))
    with transaction.atomic():
        account = BrokerAccount.objects.select_for_update().get(pk=account.pk)
        before = _state(account)
        _apply(account, outcome)
        account.save()
        changed = before["status"] != account.status
        if audit_always or changed:
            audit_record(actor=actor, action="broker_account.verify", owner=account.owner, target=account,
                         before=before, after=_state(account))
        if outcome.ok:
            events.publish(user_id=account.owner_id, event="broker.verified", payload=_event_payload(account))
        else:
            events.publish(user_id=account.owner_id, event="broker.verification_failed",
                           payload={**_event_payload(account), "reason": account.status_reason,
                                    "status_code": account.status_code})
            if changed and before["status"] == AccountStatus.VERIFIED:
                transaction.on_commit(lambda: _email_failure(account, outcome.error))
    return outcome


def broker_account_rotate_keys(*, actor: Actor, account: BrokerAccount, app_key: str, app_secret: str) -> BrokerAccount:
    """Replace the keys after verifying the new ones; the old token is revoked unless another account
    still uses the old key. The old keys stay in place when the new ones fail."""
    if account.is_paper:
        raise ApplicationError(str(PAPER_HAS_NO_KEYS))
    app_key, app_secret = _clean_keys(account.broker, app_key, app_secret)
    old_credentials, old_key_id = account.credentials(), account.app_key_id
    credentials = Credentials(app_key=app_key, app_secret=app_secret, account_no=account.account_no,
                              hts_id=account.hts_id, environment=Environment(account.environment))
    outcome = _verify(connections.client_for(account.broker, credentials))
    if not outcome.ok:
        raise BrokerRefused(messages.explain(outcome.error))  # type: ignore[arg-type]
    with transaction.atomic():
        account = BrokerAccount.objects.select_for_update().get(pk=account.pk)
        before = _state(account)
        account.set_keys(app_key=app_key, app_secret=app_secret)
        _apply(account, outcome)
        account.save()
        revoke = old_key_id != account.app_key_id and not _key_in_use(old_key_id, account.broker, exclude=account.pk)
        audit_record(actor=actor, action="broker_account.rotate_keys", owner=account.owner, target=account,
                     before=before, after=_state(account),
                     reason="old token revoked" if revoke else "old key still used by another account")
        events.publish(user_id=account.owner_id, event="broker.keys_rotated", payload=_event_payload(account))
        if revoke:
            transaction.on_commit(lambda: _revoke(account.broker, old_credentials))
    return account


def broker_account_rename(*, actor: Actor, account: BrokerAccount, nickname: str) -> BrokerAccount:
    nickname = _clean_nickname(nickname)
    with transaction.atomic():
        before = {"nickname": account.nickname}
        account.nickname = nickname
        account.save(update_fields=["nickname", "updated_at"])
        audit_record(actor=actor, action="broker_account.rename", owner=account.owner, target=account,
                     before=before, after={"nickname": nickname})
    return account


def broker_account_delete(*, actor: Actor, account: BrokerAccount) -> None:
    """Delete the account (a paper account's book and its order history with it; the audit rows
    stay); its token is revoked at the broker unless another account uses the same key. Refused
    while an order of the account may still trade or is not settled (``ApplicationError``)."""
    from trading.orders.selectors import open_orders

    pending = open_orders(account_id=account.pk).count()
    if pending:
        raise ApplicationError(str(HAS_OPEN_ORDERS) % {"count": pending}, code="open_orders")
    revoke = not account.is_paper and not _key_in_use(account.app_key_id, account.broker, exclude=account.pk)
    credentials = None if account.is_paper else account.credentials()
    with transaction.atomic():
        audit_record(actor=actor, action="broker_account.delete", owner=account.owner, target=account,
                     before={**_state(account), "broker": account.broker, "environment": account.environment,
                             "account_no": account.masked_account_no if not account.is_paper else ""},
                     reason="token revoked" if revoke else "")
        payload = _event_payload(account)
        owner_id = account.owner_id
        account.delete()
        events.publish(user_id=owner_id, event="broker.deleted", payload=payload)
        if revoke and credentials is not None:
            broker = payload["broker"]
            transaction.on_commit(lambda: _revoke(broker, credentials))


def broker_account_set_disabled(*, actor: Actor, account: BrokerAccount, disabled: bool) -> BrokerAccount:
    """Disable (no checks, no trading) or enable an account; enabling verifies it again."""
    with transaction.atomic():
        account = BrokerAccount.objects.select_for_update().get(pk=account.pk)
        before = _state(account)
        account.status = AccountStatus.DISABLED if disabled else AccountStatus.PENDING
        account.save(update_fields=["status", "updated_at"])
        audit_record(actor=actor, action="broker_account.disable" if disabled else "broker_account.enable",
                     owner=account.owner, target=account, before=before, after=_state(account))
    if not disabled:
        broker_account_verify(actor=actor, account=account)
        account.refresh_from_db()
    return account


def _clean_limits(max_order_value: Decimal | int | None,
                  max_position_share: Decimal | int | None) -> tuple[Decimal | None, Decimal | None]:
    value = None if max_order_value in (None, "") else Decimal(max_order_value)
    if value is not None and not (0 < value <= DEFAULT_MAX_ORDER_VALUE and value == value.to_integral_value()):
        raise ApplicationError(str(LIMIT_ORDER_VALUE_RANGE) % {"maximum": amount(DEFAULT_MAX_ORDER_VALUE)},
                               field="max_order_value", code="limit_out_of_range")
    share = None if max_position_share in (None, "") else Decimal(max_position_share)
    if share is not None and not (0 < share <= 100 and share == share.quantize(Decimal("0.01"))):
        raise ApplicationError(str(LIMIT_SHARE_RANGE), field="max_position_share", code="limit_out_of_range")
    return value, share


def broker_account_limits_set(*, actor: Actor, account: BrokerAccount, max_order_value: Decimal | int | None,
                              max_position_share: Decimal | int | None) -> BrokerAccount:
    """Set the account's own caps: ``max_order_value`` (whole KRW, at most the platform's limit) and
    ``max_position_share`` (percent of the account one symbol may reach, in (0, 100]); None clears
    one (the platform's default: ``trading.risk``). Every order placed afterwards is checked
    against them (``trading.orders.place``). Raises ``ApplicationError`` naming the field."""
    value, share = _clean_limits(max_order_value, max_position_share)
    with transaction.atomic():
        account = BrokerAccount.objects.select_for_update().select_related("owner").get(pk=account.pk)

        def text(number: Decimal | None) -> str | None:
            return None if number is None else f"{number.normalize():f}"

        before = {"max_order_value": text(account.max_order_value),
                  "max_position_share": text(account.max_position_share)}
        account.max_order_value, account.max_position_share = value, share
        account.save(update_fields=["max_order_value", "max_position_share", "updated_at"])
        audit_record(actor=actor, action="broker_account.limits", owner=account.owner, target=account,
                     before=before, after={"max_order_value": text(value), "max_position_share": text(share)})
    return account


def broker_account_reconcile_request(*, actor: Actor, account: BrokerAccount) -> None:
    """Ask for a reconciliation of ``account`` with its broker now (an operator's "reconcile now"):
    audited, and the job enqueued on commit (``trading.orders.services.enqueue_reconcile``)."""
    from trading.orders import services as order_services

    account_id = account.pk
    with transaction.atomic():
        audit_record(actor=actor, action="broker_account.reconcile_request", owner=account.owner, target=account)
        transaction.on_commit(lambda: order_services.enqueue_reconcile(account_id))


# -- helpers ---------------------------------------------------------------------------------
def _key_in_use(key_id: str, broker: str, *, exclude: int) -> bool:
    return bool(key_id) and BrokerAccount.objects.filter(app_key_id=key_id, broker=broker).exclude(pk=exclude).exists()


def _revoke(broker: str, credentials: Credentials) -> None:
    try:
        connections.client_for(broker, credentials).revoke_token()
    except BrokerError as exc:
        logger.warning("token revocation failed: %s %s", type(exc).__name__, exc.code)


def _email_failure(account: BrokerAccount, error: BrokerError | None) -> None:
    user = account.owner
    with translation.override(user.language):
        subject = _t("[퀀트K] Your broker account %(name)s could not be verified") % {"name": account.nickname}
        body = _t("The scheduled check of %(name)s failed: %(reason)s\n\nOpen the account page to verify it "
                  "again or rotate its keys.") % {
            "name": account.nickname, "reason": messages.explain(error) if error else ""}
    send_mail(subject, body, None, [user.email], fail_silently=True)


# -- the scheduled connection check ----------------------------------------------------------
def broker_accounts_check() -> dict[str, int]:
    """Verify every active KIS/Kiwoom account (token + balance); record which brokers fail broadly.

    Returns counts per outcome. Accounts are checked one by one (each key has its own budget).
    """
    actor = Actor.system("connection check")
    totals = {"checked": 0, "failed": 0}
    per_broker: dict[tuple[str, str], list[BrokerError | None]] = {}
    accounts = (BrokerAccount.objects.exclude(broker=BrokerKind.PAPER).exclude(status=AccountStatus.DISABLED)
                .select_related("owner").order_by("pk"))
    for account in accounts.iterator():
        outcome = broker_account_verify(actor=actor, account=account, audit_always=False)
        per_broker.setdefault((account.broker, account.environment), []).append(outcome.error)
        totals["checked"] += 1
        totals["failed"] += 0 if outcome.ok else 1
    for (broker, environment), errors in per_broker.items():
        health.record_check(broker=broker, environment=environment, errors=errors)
    return totals
