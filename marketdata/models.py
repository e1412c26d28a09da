"""Models of marketdata: see the architecture map for what this app owns."""
