"""Invites API: the user's own code, link and invitations (emails masked)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import invites
from accounts.models import InvitationStatus


class InviteRowSerializer(serializers.Serializer):
    email = serializers.CharField(help_text="The friend's address, masked (ab***@example.com).")
    status = serializers.ChoiceField(choices=InvitationStatus.choices)
    status_label = serializers.CharField()
    joined_at = serializers.DateTimeField()
    verified_at = serializers.DateTimeField(allow_null=True)
    rewarded_at = serializers.DateTimeField(allow_null=True)


class InviteListApi(APIView):
    """GET: my invite code and link (built from the site's public address) and whom I invited."""

    class InviteOverviewSerializer(serializers.Serializer):
        code = serializers.CharField()
        link = serializers.URLField()
        invitations = InviteRowSerializer(many=True)
        rewarded_count = serializers.IntegerField()
        days_earned = serializers.IntegerField(help_text="Days of the reward plan earned by invites, both ways.")
        reward_plan = serializers.CharField(help_text="The plan an invite gives (empty: none now).")
        reward_days = serializers.IntegerField()

    @extend_schema(operation_id="invites_retrieve", responses={200: InviteOverviewSerializer})
    def get(self, request):
        overview = invites.invite_overview(user=request.user, fingerprint=invites.Fingerprint.of_request(request))
        return Response(self.InviteOverviewSerializer(overview).data)
