"""Re-encrypt every secret at rest with the newest field key.

Rotation: generate a key, put it FIRST in FIELD_ENCRYPTION_KEYS (keep the old ones after it), restart,
run this command, then drop the old key from the list and restart again.
"""

from __future__ import annotations

from cryptography.fernet import InvalidToken
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import crypto


class Command(BaseCommand):
    help = "Re-encrypt broker credentials and 2FA secrets with the newest key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options) -> None:
        from allauth.mfa.models import Authenticator

        from trading.models import BrokerAccount

        accounts = authenticators = 0
        try:
            with transaction.atomic():
                for account in BrokerAccount.objects.select_for_update().exclude(app_key_encrypted=""):
                    account.app_key_encrypted = crypto.rotate(account.app_key_encrypted)
                    account.app_secret_encrypted = crypto.rotate(account.app_secret_encrypted)
                    account.save(update_fields=["app_key_encrypted", "app_secret_encrypted"])
                    accounts += 1
                for authenticator in Authenticator.objects.select_for_update():
                    data = dict(authenticator.data)
                    for name in ("secret", "seed"):
                        if isinstance(data.get(name), str):
                            data[name] = crypto.rotate(data[name])
                    authenticator.data = data
                    authenticator.save(update_fields=["data"])
                    authenticators += 1
        except InvalidToken:
            raise CommandError("A secret could not be decrypted with any key in FIELD_ENCRYPTION_KEYS: keep the "
                               "old key in the list (after the new one) until this command has run.") from None
        self.stdout.write(f"Re-encrypted {accounts} broker accounts and {authenticators} 2FA authenticators.")
