"""Celery tasks of notifications: webhook. Imported by notifications/tasks.py (Celery discovers tasks.py)."""
