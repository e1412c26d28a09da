"""Admin of notifications: feedback. Imported by notifications/admin.py."""
