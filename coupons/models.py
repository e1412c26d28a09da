"""Models of coupons: see the architecture map for what this app owns."""
