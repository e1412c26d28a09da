"""The Celery app. `celery -A config worker` and `celery -A config beat` load it."""

import os

from celery import Celery

from config import env_checks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
env_checks.enforce()

app = Celery("platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
