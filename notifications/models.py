"""Models of notifications: see the architecture map for what this app owns."""
