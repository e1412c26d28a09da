"""Admin of strategies: registered as its models arrive."""
