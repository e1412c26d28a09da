"""The conflict guard (trading/risk.py, "Conflict guard"): pure, no database."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading.risk import (
    Bucket,
    GuardContext,
    GuardIntent,
    SpreadRules,
    SymbolOwner,
    UserBook,
    VerdictKind,
    allotment_failures,
    buckets_rescale,
    daily_loss_users,
    guard_intents,
    platform_cap,
)

ALICE, BOB = 1, 2
ACCOUNT, BOB_ACCOUNT = 10, 20
SAMSUNG, HYNIX, NAVER = "005930", "000660", "035420"
PLENTY = Bucket(account_id=ACCOUNT, allotment=Decimal(1_000_000_000), name="Momentum")
PLENTY_BOB = Bucket(account_id=BOB_ACCOUNT, allotment=Decimal(1_000_000_000), name="Bob's")


def intent(symbol: str = SAMSUNG, quantity: int = 10, price: int = 70_000, *, side: str = "buy",
           deployment: int = 1, user: int = ALICE, account: int = ACCOUNT, sector: str = "",
           lot: str = "1") -> GuardIntent:
    return GuardIntent(deployment_id=deployment, user_id=user, account_id=account, symbol=symbol, sector=sector,
                       side=side, quantity=Decimal(quantity), price=Decimal(price), lot=Decimal(lot))


def context(**overrides) -> GuardContext:
    """Alice's deployments 1 (Momentum) and 2 (Value) share her account, Bob's 3 is in his; no cap."""
    values = {"buckets": {1: PLENTY, 2: dataclasses.replace(PLENTY, name="Value"), 3: PLENTY_BOB},
              "platform_share": None}
    return GuardContext(**{**values, **overrides})


def one(item: GuardIntent, ctx: GuardContext):
    [verdict] = guard_intents([item], ctx)
    return verdict


# -- symbol owner ---------------------------------------------------------------------------------------
def test_a_second_deployment_is_blocked_on_a_claimed_symbol_naming_the_first():
    ctx = context(claims={(ACCOUNT, SAMSUNG): SymbolOwner(1, "Momentum")})
    verdict = one(intent(deployment=2), ctx)
    assert verdict.verdict is VerdictKind.BLOCKED and verdict.quantity == 0
    assert verdict.code == "symbol_owner"
    assert verdict.message == ("005930 in this account belongs to your deployment “Momentum”: one deployment per "
                               "symbol and account, so this one does not trade it.")
    assert one(intent(deployment=2, side="sell"), ctx).code == "symbol_owner"  # no sell from the other one
    assert one(intent(deployment=1), ctx).verdict is VerdictKind.PASSED


def test_a_symbol_another_deployment_holds_unclaimed_is_blocked_too():
    ctx = context(buckets={1: dataclasses.replace(PLENTY, held={HYNIX: Decimal(5)}), 2: PLENTY})
    verdict = one(intent(HYNIX, deployment=2), ctx)
    assert verdict.code == "symbol_owner" and "“Momentum”" in verdict.message


def test_the_same_symbol_in_another_account_is_not_a_conflict():
    ctx = context(claims={(ACCOUNT, SAMSUNG): SymbolOwner(1, "Momentum")})
    assert one(intent(deployment=3, user=BOB, account=BOB_ACCOUNT), ctx).verdict is VerdictKind.PASSED


# -- capital bucket -------------------------------------------------------------------------------------
def test_a_buy_is_trimmed_to_what_is_left_of_its_bucket_then_blocked():
    bucket = Bucket(account_id=ACCOUNT, allotment=Decimal(1_000_000), invested=Decimal(400_000),
                    open_buys=Decimal(100_000))
    ctx = context(buckets={1: bucket})
    first, second, third = guard_intents([intent(quantity=5), intent(HYNIX, quantity=10, price=100_000),
                                          intent(NAVER, quantity=1, price=200_000)], ctx)
    assert (first.verdict, first.quantity) == (VerdictKind.PASSED, 5)  # 350,000 of the 500,000 left
    assert (second.verdict, second.quantity) == (VerdictKind.TRIMMED, 1)  # 150,000 left: one lot
    assert second.code == "capital_bucket"
    assert second.message == ("This deployment's capital is 1,000,000 KRW and 850,000 KRW of it is in positions "
                              "and open buys, so 150,000 KRW is left: 1 of the 10 000660 wanted fit at 100,000 KRW.")
    assert (third.verdict, third.quantity, third.code) == (VerdictKind.BLOCKED, 0, "capital_bucket")


def test_a_bucket_trims_to_whole_lots():
    ctx = context(buckets={1: Bucket(account_id=ACCOUNT, allotment=Decimal(1_000_000))})
    verdict = one(intent(quantity=200, price=7_000, lot="10"), ctx)  # 142.8 shares fit
    assert (verdict.verdict, verdict.quantity) == (VerdictKind.TRIMMED, 140)


def test_a_deployment_without_a_bucket_buys_nothing():
    assert one(intent(deployment=9), context()).code == "capital_bucket"


def test_sells_pass_an_empty_bucket():
    ctx = context(buckets={1: Bucket(account_id=ACCOUNT, allotment=Decimal(0), invested=Decimal(500_000))})
    verdict = one(intent(side="sell"), ctx)
    assert (verdict.verdict, verdict.quantity) == (VerdictKind.PASSED, 10)


def test_allotments_cannot_exceed_the_account_equity():
    assert allotment_failures(capital=Decimal(300), allotted=Decimal(700), equity=Decimal(1000)) == []
    [failure] = allotment_failures(capital=Decimal(301), allotted=Decimal(700), equity=Decimal(1000))
    assert failure.code == "allotment_over_equity" and failure.field == "capital"
    assert "at most 300 KRW is left" in failure.message


def test_buckets_shrink_in_proportion_after_a_loss_but_never_below_what_they_hold():
    allotments = {1: Decimal(6_000_000), 2: Decimal(4_000_000)}
    assert buckets_rescale(allotments, {}, Decimal(8_000_000)) == {1: 4_800_000, 2: 3_200_000}
    # the first holds 5.5 M: it keeps that, the second takes the rest of the loss
    assert buckets_rescale(allotments, {1: Decimal(5_500_000)}, Decimal(8_000_000)) == {1: 5_500_000, 2: 2_500_000}
    assert buckets_rescale(allotments, {}, Decimal(12_000_000)) == allotments  # a gain grows nothing


# -- the user's spread ----------------------------------------------------------------------------------
def test_a_buy_is_trimmed_to_the_users_share_in_one_symbol_then_blocked():
    book = UserBook(equity=Decimal(10_000_000), values={SAMSUNG: Decimal(1_000_000)})
    ctx = context(books={ALICE: book}, rules={ALICE: SpreadRules(max_symbol_share=Decimal(20))})
    first, second = guard_intents([intent(quantity=20, price=70_000, deployment=1),
                                   intent(quantity=5, price=70_000, deployment=1)], ctx)
    assert (first.verdict, first.quantity, first.code) == (VerdictKind.TRIMMED, 14, "symbol_share")
    assert first.message == ("Your limit in one symbol is 20 % of your equity (2,000,000 of 10,000,000 KRW); "
                             "005930 already takes 1,000,000 KRW, so 14 of the 20 wanted fit at 70,000 KRW.")
    assert (second.verdict, second.code) == (VerdictKind.BLOCKED, "symbol_share")  # 20,000 KRW left: no share


def test_the_sector_share_counts_every_symbol_of_the_sector_the_user_holds():
    book = UserBook(equity=Decimal(10_000_000), values={SAMSUNG: Decimal(2_000_000), NAVER: Decimal(3_000_000)},
                    sectors={SAMSUNG: "Semiconductors", NAVER: "Internet"})
    ctx = context(books={ALICE: book}, rules={ALICE: SpreadRules(max_sector_share=Decimal(25))})
    verdict = one(intent(HYNIX, quantity=10, price=100_000, sector="Semiconductors"), ctx)
    assert (verdict.verdict, verdict.quantity, verdict.code) == (VerdictKind.TRIMMED, 5, "sector_share")
    assert "Semiconductors already takes 2,000,000 KRW" in verdict.message
    assert one(intent(HYNIX, quantity=10, price=100_000, sector="Internet"), ctx).code == "sector_share"
    assert one(intent(HYNIX, quantity=10, price=100_000, sector="Autos"), ctx).verdict is VerdictKind.PASSED


def test_a_buy_of_one_more_symbol_past_the_most_allowed_is_blocked():
    book = UserBook(equity=Decimal(10_000_000), values={SAMSUNG: Decimal(1_000_000)})
    ctx = context(books={ALICE: book}, rules={ALICE: SpreadRules(max_symbols=2)})
    more_samsung, hynix, naver = guard_intents([intent(quantity=1), intent(HYNIX, quantity=1),
                                                intent(NAVER, quantity=1)], ctx)
    assert more_samsung.verdict is VerdictKind.PASSED and hynix.verdict is VerdictKind.PASSED
    assert (naver.verdict, naver.code) == (VerdictKind.BLOCKED, "max_symbols")
    assert naver.message == ("You already hold 2 symbols, the most your risk settings allow (2): 035420 would be "
                             "one more, so it is not bought.")


def test_the_daily_loss_limit_blocks_every_buy_and_names_the_user_to_pause():
    book = UserBook(equity=Decimal(9_700_000))
    ctx = context(books={ALICE: book, BOB: book}, rules={ALICE: SpreadRules(daily_loss_limit=Decimal(3)),
                                                           BOB: SpreadRules(daily_loss_limit=Decimal(5))},
                  pnl_today={ALICE: Decimal(-300_000), BOB: Decimal(-300_000)})
    buy, sell, bobs = guard_intents([intent(quantity=1), intent(HYNIX, side="sell"),
                                     intent(deployment=3, user=BOB, account=BOB_ACCOUNT, quantity=1)], ctx)
    assert (buy.verdict, buy.code) == (VerdictKind.BLOCKED, "daily_loss_limit")
    assert buy.message == ("Today's loss is 300,000 KRW, 3 % of your equity at the start of the day "
                           "(10,000,000 KRW), past your daily loss limit of 3 %: no new buys today, and your "
                           "deployments are paused.")
    assert sell.verdict is VerdictKind.PASSED  # exits still leave
    assert bobs.verdict is VerdictKind.PASSED  # 3 % lost, his limit is 5 %
    assert daily_loss_users(ctx) == {ALICE}


def test_no_settings_means_no_spread_limit():
    verdict = one(intent(quantity=1000), context(books={ALICE: UserBook(equity=Decimal(1))}))
    assert verdict.verdict is VerdictKind.PASSED


def test_sells_are_never_trimmed_by_the_spread():
    ctx = context(books={ALICE: UserBook(equity=Decimal(100))},
                  rules={ALICE: SpreadRules(max_symbol_share=Decimal(1), max_symbols=0)})
    assert one(intent(side="sell"), ctx).verdict is VerdictKind.PASSED


# -- the platform cap -----------------------------------------------------------------------------------
def test_the_platform_cap_shares_a_thin_symbol_pro_rata():
    # ADV 100 M KRW, 1 %: 1,000,000 KRW for the whole platform at this decision time
    wants = [intent(quantity=30, price=10_000, deployment=1),  # 300,000
             intent(quantity=90, price=10_000, deployment=3, user=BOB, account=BOB_ACCOUNT)]  # 900,000
    alice, bob = platform_cap(wants, Decimal(100_000_000), Decimal("0.01"))
    assert (alice.verdict, alice.quantity) == (VerdictKind.TRIMMED, 25)  # 1 M × 300 k / 1.2 M
    assert (bob.verdict, bob.quantity) == (VerdictKind.TRIMMED, 75)
    assert (alice.quantity + bob.quantity) * 10_000 <= 1_000_000
    assert alice.code == "platform_cap"
    assert alice.message == ("The platform's orders in 005930 at one time are capped at 1 % of its average daily "
                             "traded value (1,000,000 of 100,000,000 KRW); this decision's orders want 1,200,000 "
                             "KRW, so each gets its fair share: 25 of the 30 wanted.")


def test_pro_rata_shares_round_down_to_lots_and_stay_within_the_cap():
    wants = [intent(quantity=7, price=33_300, deployment=d) for d in (1, 2, 3)]
    verdicts = platform_cap(wants, Decimal(50_000_000), Decimal("0.01"))
    assert [v.quantity for v in verdicts] == [5, 5, 5]  # 500,000 / 3 each = 5.0 shares of 33,300
    assert sum(v.quantity * 33_300 for v in verdicts) <= 500_000


def test_within_the_cap_or_without_an_average_everything_passes():
    wants = [intent(quantity=10, price=10_000)]
    assert platform_cap(wants, Decimal(100_000_000), Decimal("0.01"))[0].verdict is VerdictKind.PASSED
    assert platform_cap(wants, None, Decimal("0.01"))[0].verdict is VerdictKind.PASSED


def test_sells_pass_the_cap_and_use_it_first():
    wants = [intent(quantity=60, price=10_000, side="sell", deployment=1),
             intent(quantity=60, price=10_000, deployment=3, user=BOB, account=BOB_ACCOUNT)]
    sell, buy = platform_cap(wants, Decimal(100_000_000), Decimal("0.01"))
    assert (sell.verdict, sell.quantity) == (VerdictKind.PASSED, 60)
    assert (buy.verdict, buy.quantity) == (VerdictKind.TRIMMED, 40)


def test_platform_cap_takes_one_symbol():
    with pytest.raises(ValueError):
        platform_cap([intent(SAMSUNG), intent(HYNIX)], Decimal(1), Decimal(1))


def test_guard_intents_caps_every_deployment_of_a_symbol_in_one_step_after_the_other_rules():
    ctx = context(adv={SAMSUNG: Decimal(100_000_000)}, platform_share=Decimal("0.01"),
                  claims={(ACCOUNT, SAMSUNG): SymbolOwner(1, "Momentum")})
    verdicts = guard_intents([
        intent(quantity=50, price=10_000, deployment=1),
        intent(quantity=50, price=10_000, deployment=2),  # blocked by the owner: takes no share
        intent(quantity=50, price=10_000, deployment=3, user=BOB, account=BOB_ACCOUNT),
        intent(HYNIX, quantity=50, price=10_000, deployment=2),  # no average known: not capped
    ], ctx)
    assert [(v.verdict, v.quantity, v.code) for v in verdicts] == [
        (VerdictKind.PASSED, 50, ""), (VerdictKind.BLOCKED, 0, "symbol_owner"), (VerdictKind.PASSED, 50, ""),
        (VerdictKind.PASSED, 50, "")]
    ctx = context(adv={SAMSUNG: Decimal(80_000_000)}, platform_share=Decimal("0.01"))
    alice, bob = guard_intents([intent(quantity=50, price=10_000, deployment=1),
                                intent(quantity=50, price=10_000, deployment=3, user=BOB, account=BOB_ACCOUNT)],
                               ctx)
    assert (alice.quantity, bob.quantity, alice.code, bob.code) == (40, 40, "platform_cap", "platform_cap")


def test_a_trimmed_intent_keeps_every_reason_and_reports_the_last():
    ctx = context(buckets={1: Bucket(account_id=ACCOUNT, allotment=Decimal(800_000))},
                  adv={SAMSUNG: Decimal(50_000_000)}, platform_share=Decimal("0.01"))
    verdict = one(intent(quantity=100, price=10_000), ctx)
    assert verdict.codes == ("capital_bucket", "platform_cap")
    assert (verdict.verdict, verdict.quantity, verdict.code) == (VerdictKind.TRIMMED, 50, "platform_cap")
    assert "50 of the 80 wanted" in verdict.message


@settings(max_examples=60, deadline=None, derandomize=True)
@given(wants=st.lists(st.tuples(st.integers(1, 500), st.integers(1, 200)), min_size=1, max_size=8),
       adv=st.integers(0, 2_000_000_000))
def test_pro_rata_shares_never_exceed_the_cap_nor_a_want_and_a_bigger_want_never_gets_less(wants, adv):
    intents = [intent(quantity=quantity, price=price * 100, deployment=index)
               for index, (quantity, price) in enumerate(wants)]
    verdicts = platform_cap(intents, Decimal(adv), Decimal("0.01"))
    total = sum(item.value for item in intents)
    sent = sum(v.quantity * v.intent.price for v in verdicts)
    cap = Decimal(adv) * Decimal("0.01")
    assert sent == total if total <= cap else sent <= cap
    assert all(0 <= v.quantity <= v.intent.quantity for v in verdicts)
    for a in verdicts:  # at one price, a bigger want never gets fewer shares
        for b in verdicts:
            if a.intent.price == b.intent.price and a.intent.quantity >= b.intent.quantity:
                assert a.quantity >= b.quantity
