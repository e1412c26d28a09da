"""Serve HTTP and websockets with daphne; in embedded mode, with the worker and beat inside."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Serve the platform with daphne (HTTP and websockets). In embedded mode "
        "(no CELERY_BROKER_URL/REDIS_URL) a Celery worker and beat run inside this process."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-beat", action="store_true", help="do not run the embedded beat")

    def handle(self, *args, host: str, port: int, no_beat: bool, **options) -> None:
        from daphne.cli import CommandLineInterface

        if settings.CELERY_EMBEDDED:
            from config.celery_app import app
            from core.embedded import start_embedded_celery

            start_embedded_celery(app, with_beat=not no_beat)
            self.stdout.write("Celery worker and beat: embedded (in-memory broker)")
        else:
            self.stdout.write(f"Celery: external workers on {settings.CELERY_BROKER_URL.split('@')[-1]}")
        self.stdout.write(f"Serving on http://{host}:{port}/ (daphne: HTTP and websockets)")
        CommandLineInterface().run(["-b", host, "-p", str(port), "--proxy-headers", settings.ASGI_APPLICATION.replace(".application", ":application")])
