"""Celery tasks of notifications: announcement. Imported by notifications/tasks.py (Celery discovers tasks.py)."""
