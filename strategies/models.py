"""Models of strategies: see the architecture map for what this app owns."""
