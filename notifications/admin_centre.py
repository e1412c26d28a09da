"""Admin of notifications: centre. Imported by notifications/admin.py."""
