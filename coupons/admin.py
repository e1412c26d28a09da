"""Admin of coupons: registered as its models arrive."""
