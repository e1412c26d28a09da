"""Fake broker servers for tests, browser tests, benchmarks and local demos.

They speak the brokers' own paths, headers, JSON, paging and error codes (taken from the official
samples), so the real clients in ``trading/brokers/`` are proven against them unchanged: point the
``BROKER_*_URL`` settings at one. ``python -m trading.fakes kis --port 18443`` serves one by hand.
"""
