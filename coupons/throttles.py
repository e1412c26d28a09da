"""The API's per-user throttle: requests per minute of the user's plan (``Plan.api_requests_per_minute``).

It takes the ``user`` scope's place in ``REST_FRAMEWORK``: the scope's configured rate
(``API_THROTTLE_USER``) only switches it on or off (``None``: off, as tests that are not about
throttling set it); the number is the plan's. Anonymous requests are ``AnonRateThrottle``'s.
"""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.throttling import UserRateThrottle

from coupons.selectors import Limits, limit_message, plan_limits


def request_limits(request: Any) -> Limits:
    """The plan limits of the request's user, read once per request."""
    cached = getattr(request, "_plan_limits", None)
    if cached is None:
        cached = plan_limits(user=request.user)
        request._plan_limits = cached
    return cached


class PlanRateThrottle(UserRateThrottle):
    scope = "user"

    def allow_request(self, request: Any, view: Any) -> bool:
        if self.rate is None or not getattr(request.user, "is_authenticated", False):
            return True
        limits = request_limits(request)
        self.num_requests, self.duration = limits.api_requests_per_minute, 60
        if super().allow_request(request, view):
            return True
        # the 429 names the limit and the plan that lifts it, like every other plan limit
        raise exceptions.Throttled(wait=self.wait(),
                                   detail=limit_message(limits=limits, field="api_requests_per_minute"))
