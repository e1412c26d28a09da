"""Admin of notifications: webhook. Imported by notifications/admin.py."""
