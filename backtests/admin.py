"""Admin of backtests: registered as its models arrive."""
