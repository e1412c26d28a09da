"""Fake outside services for the notifications' tests: ``telegram_server.FakeTelegram`` (the Bot API)."""
