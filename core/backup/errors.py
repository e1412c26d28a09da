"""The one error of the backup package: a problem an operator can act on, told in one sentence."""


class BackupError(Exception):
    """A backup or restore that cannot go on (missing tool, unreachable bucket, corrupt set...).

    The commands print its message and exit 1; the message names the problem, never a secret.
    """
