"""What users read when a broker says no: broker errors mapped to clear sentences (translated).

Broker texts are Korean and terse; codes differ per broker. This module is the one place that
turns a ``BrokerError`` into a sentence for pages, the API and notifications. The broker's own code
and text stay on the error (and the account's ``status_code``) for support.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from trading.brokers.base import BrokerError, NotSupported, RateLimited, Refused, TokenExpired, UnknownOutcome

BAD_KEYS = _("The broker refused the app key or secret. Copy both again from the broker's developer portal "
             "(real and mock trading have different keys).")
WRONG_ACCOUNT = _("The broker does not know this account number for these keys. Check the account number "
                  "(KIS: 8 digits + 2-digit product code).")
WRONG_ENVIRONMENT = _("These keys belong to the other environment: mock-trading keys only work with a mock "
                      "account, real keys with a real one.")
IP_NOT_ALLOWED = _("The broker refused this server's address: register it as an allowed IP in the broker's portal.")
TOKEN_TOO_OFTEN = _("The broker allows a new access token only once a minute. Try again in a minute.")
TOKEN_REFUSED = _("The broker refused the access token it had just issued. Verify the keys again.")
BUSY = _("The broker is limiting requests right now. Try again in a few seconds.")
UNREACHABLE = _("The broker could not be reached. Try again in a few minutes.")
NO_ANSWER = _("The broker did not answer in time. Try again in a few minutes.")
NOT_SUPPORTED = _("The broker does not offer this for this kind of account.")
REFUSED = _("The broker refused the request: %(reason)s")

# Codes of each broker that mean the same thing to a user (broker-apis.md A7, B7; the clients add
# their own codes for checks they make themselves, e.g. "account_mismatch").
BAD_KEY_CODES = {"EGW00102", "EGW00103", "EGW00104", "EGW00105", "EGW00106", "8001", "8002", "8011", "8012", "bad_keys"}
WRONG_ACCOUNT_CODES = {"account_mismatch", "OPSQ2000", "OPSQ2001", "INPUT_FIELD_NAME CANO"}
WRONG_ENVIRONMENT_CODES = {"8030", "8031", "environment_mismatch"}
IP_CODES = {"8010"}


def explain(error: BrokerError) -> str:
    """One sentence for the user, in the active language."""
    code = error.code or ""
    if code in BAD_KEY_CODES:
        return str(BAD_KEYS)
    if code in WRONG_ACCOUNT_CODES:
        return str(WRONG_ACCOUNT)
    if code in WRONG_ENVIRONMENT_CODES:
        return str(WRONG_ENVIRONMENT)
    if code in IP_CODES:
        return str(IP_NOT_ALLOWED)
    if code in {"EGW00133", "token_cooldown"}:
        return str(TOKEN_TOO_OFTEN)
    if isinstance(error, TokenExpired):
        return str(TOKEN_REFUSED)
    if isinstance(error, RateLimited):
        return str(BUSY)
    if isinstance(error, NotSupported):
        return str(NOT_SUPPORTED)
    if isinstance(error, UnknownOutcome):
        return str(NO_ANSWER)
    if isinstance(error, Refused) and code == "unreachable":
        return str(UNREACHABLE)
    reason = error.broker_message or error.message
    return str(REFUSED) % {"reason": reason}


def is_broker_side(error: BrokerError) -> bool:
    """True when the failure is the broker's (down, slow, limiting), not the account's credentials."""
    if error.code in BAD_KEY_CODES | WRONG_ACCOUNT_CODES | WRONG_ENVIRONMENT_CODES | IP_CODES:
        return False
    if isinstance(error, UnknownOutcome | RateLimited):
        return True
    return isinstance(error, Refused) and error.code in {"unreachable", "token_cooldown"}
