"""Reads of coupons: a user's redemptions (theirs only) and the operators' figures per campaign."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum

from core.errors import NotFound
from coupons.models import Coupon, Redemption


def redemption_list(*, user: Any) -> QuerySet[Redemption]:
    """The user's redemptions, newest first, with the coupon, plan and subscription (no query per row)."""
    return (Redemption.objects.filter(user=user)
            .select_related("coupon__plan", "subscription__plan").order_by("-redeemed_at", "-id"))


def redemption_get(*, user: Any, pk: int) -> Redemption:
    """One of the user's redemptions; another user's (or none) raises NotFound."""
    redemption = redemption_list(user=user).filter(pk=pk).first()
    if redemption is None:
        raise NotFound("Not found.")
    return redemption


@dataclass(frozen=True)
class CampaignStats:
    campaign: str
    coupons: int
    active: int
    redeemed: int
    capacity: int | None  # total redemptions the coupons allow; None: at least one has no cap

    @property
    def remaining(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.redeemed)


def campaign_stats() -> list[CampaignStats]:
    """Per campaign (the empty campaign too): coupons, active ones, redemptions, what remains. One query."""
    rows = (Coupon.objects.order_by().values("campaign")
            .annotate(coupons=Count("id"), active=Count("id", filter=Q(active=True)),
                      redeemed=Sum("redeemed_count"), capacity=Sum(F("max_redemptions")),
                      uncapped=Count("id", filter=Q(max_redemptions__isnull=True)))
            .order_by("campaign"))
    return [CampaignStats(campaign=row["campaign"], coupons=row["coupons"], active=row["active"],
                          redeemed=row["redeemed"] or 0,
                          capacity=None if row["uncapped"] else (row["capacity"] or 0)) for row in rows]


def coupons_of_campaign(*, campaign: str) -> QuerySet[Coupon]:
    return Coupon.objects.filter(campaign=campaign).select_related("plan").order_by("code")
