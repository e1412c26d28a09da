from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from accounts import invites, lockout
from accounts.models import ApiToken, Invitation, InvitationStatus, InviteCode, LoginLock, User
from core.audit import Actor
from core.errors import ApplicationError
from core.system.admin_incident import INCIDENT_ACTIONS, IncidentActions

UNLOCKED = _("Sign-in lock lifted: %(count)d account(s) may sign in again.")


def _active_locks():
    return LoginLock.objects.filter(user=OuterRef("pk"), locked_until__gt=timezone.now())


class SignInLockFilter(admin.SimpleListFilter):
    title = _("sign-in lock")
    parameter_name = "locked"

    def lookups(self, request, model_admin):
        return [("yes", _("Locked")), ("no", _("Not locked"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(Exists(_active_locks()))
        if self.value() == "no":
            return queryset.exclude(Exists(_active_locks()))
        return queryset


@admin.register(User)
class UserAdmin(IncidentActions, BaseUserAdmin):
    ordering = ["-date_joined"]
    list_display = [
        "email", "display_name", "is_active", "sign_in_locked_until", "is_staff", "language", "date_joined", "last_login"
    ]  # fmt: skip
    list_filter = [SignInLockFilter, "is_active", "is_staff", "is_superuser", "language", "theme"]
    search_fields = ["email", "display_name"]
    readonly_fields = ["date_joined", "last_login", "sign_in_locked_until"]
    fieldsets = [
        (None, {"fields": ["email", "password", "display_name"]}),
        (_("Preferences"), {"fields": ["theme", "language", "timezone"]}),
        (_("Permissions"), {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        (_("Sign-in lock"), {"fields": ["sign_in_locked_until"]}),
        (_("Dates"), {"fields": ["date_joined", "last_login"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["email", "password1", "password2"]})]
    actions = ["unlock_sign_in", *INCIDENT_ACTIONS]  # incident tools: core.system.admin_incident

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("login_lock")

    @admin.display(description=_("sign-ins refused until"))
    def sign_in_locked_until(self, user: User):
        lock = getattr(user, "login_lock", None)
        return lock.locked_until if lock is not None and lock.locked_until > timezone.now() else None

    @admin.action(description=_("Lift the sign-in lock of the selected users"))
    def unlock_sign_in(self, request, queryset) -> None:
        count = sum(lockout.account_unlock(user=user, by=f"admin {request.user.email}") for user in queryset)
        self.message_user(request, UNLOCKED % {"count": count}, messages.SUCCESS)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at"]
    search_fields = ["user__email", "name", "prefix"]
    list_select_related = ["user"]
    readonly_fields = ["user", "prefix", "key_hash", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "key_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are issued to the app by /api/v1/auth/token/


# ---------------------------------------------------------------------------
# Invites: invitations to review (the "flagged" filter), codes with their invite tree
# ---------------------------------------------------------------------------
INVITES_APPROVED = _("%(count)d invitation(s) approved: both people were rewarded.")
INVITES_REFUSED = _("%(count)d invitation(s) refused.")
INVITE_NOT_CHANGED = _("%(invitation)s: %(reason)s")


def _admin_actor(request) -> Actor:
    return Actor.of_admin(request.user, ip=request.META.get("REMOTE_ADDR") or None)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "inviter_link", "invitee", "status", "flag_reason", "signup_ip", "verified_at",
                    "rewarded_at", "reviewed_by"]
    list_filter = ["status", "created_at", "rewarded_at"]
    search_fields = ["inviter__email", "invitee__email", "code", "signup_ip"]
    list_select_related = ["inviter", "invitee", "reviewed_by"]
    readonly_fields = ["inviter", "invitee", "code", "status", "signup_ip", "device_hash", "verified_at",
                       "rewarded_at", "flag_reason", "reviewed_by", "created_at", "updated_at"]
    fields = readonly_fields
    actions = ["approve_invitations", "refuse_invitations"]

    def has_add_permission(self, request) -> bool:
        return False  # written at sign-up only

    def has_change_permission(self, request, obj=None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.display(description=_("inviter"), ordering="inviter__email")
    def inviter_link(self, invitation: Invitation):
        url = reverse("admin:accounts_invitecode_changelist") + f"?user__id__exact={invitation.inviter_id}"
        return format_html('<a href="{}">{}</a>', url, invitation.inviter.email)

    def _review(self, request, queryset, review, done) -> None:
        count = 0
        for invitation in queryset:
            try:
                review(actor=_admin_actor(request), invitation=invitation)
            except ApplicationError as error:
                self.message_user(request, INVITE_NOT_CHANGED % {"invitation": invitation, "reason": error.message},
                                  messages.WARNING)
            else:
                count += 1
        if count:
            self.message_user(request, done % {"count": count}, messages.SUCCESS)

    @admin.action(description=_("Approve: reward both people"), permissions=["review"])
    def approve_invitations(self, request, queryset) -> None:
        self._review(request, queryset, invites.invitation_approve, INVITES_APPROVED)

    @admin.action(description=_("Refuse: no reward"), permissions=["review"])
    def refuse_invitations(self, request, queryset) -> None:
        self._review(request, queryset, invites.invitation_refuse, INVITES_REFUSED)

    def has_review_permission(self, request) -> bool:
        return request.user.has_perm("accounts.change_invitation")


@admin.register(InviteCode)
class InviteCodeAdmin(admin.ModelAdmin):
    """Inviters: their code, how many joined and were rewarded, and the tree of whom they invited."""

    list_display = ["user", "code", "joined", "rewarded", "flagged", "created_at"]
    search_fields = ["user__email", "code"]
    list_select_related = ["user"]
    readonly_fields = ["user", "code", "created_at", "invite_tree"]
    fields = readonly_fields

    def has_add_permission(self, request) -> bool:
        return False  # created on first need (accounts.invites)

    def get_queryset(self, request):
        sent = "user__invitations_sent__status"
        return super().get_queryset(request).annotate(
            joined_count=Count("user__invitations_sent"),
            rewarded_count=Count("user__invitations_sent", filter=Q(**{sent: InvitationStatus.REWARDED})),
            flagged_count=Count("user__invitations_sent", filter=Q(**{sent: InvitationStatus.FLAGGED})),
        )

    @admin.display(description=_("joined"), ordering="joined_count")
    def joined(self, code: InviteCode) -> int:
        return code.joined_count

    @admin.display(description=_("rewarded"), ordering="rewarded_count")
    def rewarded(self, code: InviteCode) -> int:
        return code.rewarded_count

    @admin.display(description=_("flagged"), ordering="flagged_count")
    def flagged(self, code: InviteCode) -> int:
        return code.flagged_count

    @admin.display(description=_("invite tree"))
    def invite_tree(self, code: InviteCode):
        """Whom this user invited, and whom each of them invited in turn (one level down)."""
        sent = list(Invitation.objects.filter(inviter=code.user_id).select_related("invitee"))
        below: dict[int, list[Invitation]] = {}
        for invitation in Invitation.objects.filter(inviter__in=[i.invitee_id for i in sent]).select_related("invitee"):
            below.setdefault(invitation.inviter_id, []).append(invitation)
        if not sent:
            return "—"

        def line(invitation: Invitation) -> str:
            url = reverse("admin:accounts_invitation_change", args=[invitation.pk])
            return format_html('<a href="{}">{}</a> · {}', url, invitation.invitee.email,
                               invitation.get_status_display())

        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}{}</li>", (
            (line(invitation), format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", (
                (line(child),) for child in below.get(invitation.invitee_id, [])))) if below.get(invitation.invitee_id) else "")
            for invitation in sent)))
