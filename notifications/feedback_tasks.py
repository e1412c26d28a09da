"""Celery tasks of notifications: feedback. Imported by notifications/tasks.py (Celery discovers tasks.py)."""
