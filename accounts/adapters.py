from allauth.account.adapter import DefaultAccountAdapter
from allauth.mfa.adapter import DefaultMFAAdapter

from accounts import lockout
from core import crypto


class AccountAdapter(DefaultAccountAdapter):
    """Sign-in attempts are counted by accounts.lockout, the same count as the API's and the 2FA step's."""

    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "too_many_login_attempts": lockout.TOO_MANY_ATTEMPTS,
        lockout.AccountLocked.code: lockout.ACCOUNT_LOCKED,
    }

    def _get_login_attempts_cache_key(self, request, **credentials) -> str:
        # allauth's key was the host plus the address typed: each allowed host and each of the
        # account's addresses had a count of its own. Also what a password reset clears.
        login = credentials.get("email", credentials.get("username", ""))
        return lockout.attempt_key(user=lockout.account_for_login(login), login=login)

    def is_open_for_signup(self, request) -> bool:
        from core.system.selectors import system_settings_for  # operators close sign-up in the system settings

        return system_settings_for(request).signup_open

    def pre_authenticate(self, request, **credentials) -> None:
        login = credentials.get("email", credentials.get("username", ""))
        self._attempt_user = lockout.account_for_login(login)
        try:
            self._login_failed_rl_usage = lockout.sign_in_attempt_begin(request, user=self._attempt_user, login=login)
        except lockout.AccountLocked as refused:
            raise self.validation_error(lockout.AccountLocked.code) from refused
        except lockout.TooManyAttempts as refused:
            raise self.validation_error("too_many_login_attempts") from refused

    def authentication_failed(self, request, **credentials) -> None:
        lockout.sign_in_attempt_failed(request, user=getattr(self, "_attempt_user", None))


class MFAAdapter(DefaultMFAAdapter):
    """TOTP secrets are stored encrypted with the platform's field keys."""

    def encrypt(self, text: str) -> str:
        return crypto.encrypt(text)

    def decrypt(self, encrypted_text: str) -> str:
        return crypto.decrypt(encrypted_text)
