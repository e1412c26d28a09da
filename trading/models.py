"""Models of trading: see the architecture map for what this app owns."""
