"""Kill switches API: the user's own switches (one per broker account, one for the user), pulled
and released through ``trading.killswitch`` (audited, announced; a pull may cancel open orders).

The global switch is shown (whether the administrators stopped the platform) but only the admin
can pull or release it: here ``scope`` is ``account`` or ``user``. Another user's account is 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import limits
from core.audit import Actor
from trading import selectors as account_selectors
from trading.killswitch import kill_switch_pull, kill_switch_release
from trading.models import BrokerAccount
from trading.orders.models import KillSwitch, KillSwitchScope

MESSAGE_ACCOUNT_NEEDED = _("An account kill switch needs its account.")
MESSAGE_NO_ACCOUNT_FOR_USER = _("Your own kill switch covers all your accounts: send no account with it.")
OWN_SCOPES = [(KillSwitchScope.ACCOUNT.value, KillSwitchScope.ACCOUNT.label),
              (KillSwitchScope.USER.value, KillSwitchScope.USER.label)]


class KillSwitchSerializer(serializers.Serializer):
    scope = serializers.ChoiceField(choices=KillSwitchScope.choices)
    account = serializers.IntegerField(allow_null=True, help_text="With scope account.")
    account_nickname = serializers.CharField(allow_blank=True)
    on = serializers.BooleanField()
    reason = serializers.CharField(allow_blank=True, help_text="Why it was pulled (not shown for the global one).")
    cancel_open_orders = serializers.BooleanField()
    pulled_at = serializers.DateTimeField(allow_null=True)
    released_at = serializers.DateTimeField(allow_null=True)


def _entry(scope: str, switch: KillSwitch | None, account: BrokerAccount | None = None) -> dict[str, Any]:
    return {"scope": scope, "account": account.pk if account else None,
            "account_nickname": account.nickname if account else "", "on": bool(switch and switch.on),
            "reason": switch.reason if switch and scope != KillSwitchScope.GLOBAL else "",
            "cancel_open_orders": bool(switch and switch.cancel_open_orders),
            "pulled_at": switch.pulled_at if switch else None, "released_at": switch.released_at if switch else None}


def kill_switch_entries(user: Any) -> list[dict[str, Any]]:
    """The user's switch, one per broker account of theirs (off when never pulled), and the global one."""
    switches = list(KillSwitch.objects.filter(Q(scope=KillSwitchScope.USER, user=user)
                                              | Q(scope=KillSwitchScope.ACCOUNT, account__owner=user)
                                              | Q(scope=KillSwitchScope.GLOBAL)))
    by_account = {s.account_id: s for s in switches if s.scope == KillSwitchScope.ACCOUNT}
    own = next((s for s in switches if s.scope == KillSwitchScope.USER), None)
    platform = next((s for s in switches if s.scope == KillSwitchScope.GLOBAL), None)
    entries = [_entry(KillSwitchScope.USER, own)]
    entries += [_entry(KillSwitchScope.ACCOUNT, by_account.get(account.pk), account)
                for account in account_selectors.broker_account_list(user=user)]
    return [*entries, _entry(KillSwitchScope.GLOBAL, platform)]


class KillSwitchListApi(APIView):
    class KillSwitchActionSerializer(serializers.Serializer):
        action = serializers.ChoiceField(choices=[("pull", "pull"), ("release", "release")])
        scope = serializers.ChoiceField(choices=OWN_SCOPES)
        account = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=limits.MAX_ID,
                                           help_text="One of your broker accounts, with scope account.")
        reason = serializers.CharField(required=False, allow_blank=True, max_length=300,
                                       help_text="Why (needed to pull).")
        cancel_open_orders = serializers.BooleanField(default=False,
                                                      help_text="With pull: ask for the cancel of every open order "
                                                                "it covers.")

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            if attrs["scope"] == KillSwitchScope.ACCOUNT and attrs.get("account") is None:
                raise serializers.ValidationError({"account": [str(MESSAGE_ACCOUNT_NEEDED)]})
            if attrs["scope"] == KillSwitchScope.USER and attrs.get("account") is not None:
                raise serializers.ValidationError({"account": [str(MESSAGE_NO_ACCOUNT_FOR_USER)]})
            return attrs

    @extend_schema(responses=KillSwitchSerializer(many=True), summary="Your kill switches (and the global one)")
    def get(self, request):
        return Response(KillSwitchSerializer(kill_switch_entries(request.user), many=True).data)

    @extend_schema(request=KillSwitchActionSerializer,
                   responses={200: KillSwitchSerializer,
                              404: OpenApiResponse(description="No such broker account (or not yours)")},
                   summary="Pull or release one of your kill switches")
    def post(self, request):
        """While a switch is on no new order of its scope is accepted, and queued ones are rejected
        unsent; with ``cancel_open_orders`` every open order it covers is asked to cancel. Answers
        the switch as it is now."""
        data = self.KillSwitchActionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        given = data.validated_data
        target: dict[str, Any] = {"user": request.user}
        if given["scope"] == KillSwitchScope.ACCOUNT:
            target = {"account": account_selectors.broker_account_get(user=request.user, pk=given["account"])}
        actor = Actor.from_request(request, door="api")
        if given["action"] == "pull":
            switch = kill_switch_pull(actor=actor, scope=given["scope"], reason=given.get("reason", ""),
                                      cancel_open_orders=given["cancel_open_orders"], **target)
        else:
            switch = kill_switch_release(actor=actor, scope=given["scope"], reason=given.get("reason", ""), **target)
        return Response(KillSwitchSerializer(_entry(given["scope"], switch, target.get("account"))).data)
