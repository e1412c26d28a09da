"""Models of backtests: see the architecture map for what this app owns."""
