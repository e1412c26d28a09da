from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import lockout
from accounts.models import ApiToken, LoginLock, User

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
class UserAdmin(BaseUserAdmin):
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
    actions = ["unlock_sign_in"]

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
