"""Celery tasks of notifications: centre. Imported by notifications/tasks.py (Celery discovers tasks.py)."""
