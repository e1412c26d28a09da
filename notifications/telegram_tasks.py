"""Celery tasks of notifications: telegram. Imported by notifications/tasks.py (Celery discovers tasks.py)."""
