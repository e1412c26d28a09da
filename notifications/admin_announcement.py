"""Admin of notifications: announcement. Imported by notifications/admin.py."""
