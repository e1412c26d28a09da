"""Admin of trading: registered as its models arrive."""
