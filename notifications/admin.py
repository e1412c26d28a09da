"""Admin of notifications: registered as its models arrive."""
