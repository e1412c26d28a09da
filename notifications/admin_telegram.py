"""Admin of notifications: telegram. Imported by notifications/admin.py."""
