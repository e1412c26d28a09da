"""Admin of marketdata: registered as its models arrive."""
