"""Benchmarks of the platform, kept out of the app packages (and out of their coverage).

    python -m bench.engine    signals + backtest engine on a synthetic universe (vs vectorbt, backtesting.py)
    python -m bench.store     the Parquet bar store: reads, memory, instrument search
    python -m bench.service   backtests through the whole platform: submit-to-result, page/API latency, memory
    python -m bench.brokers   one broker app key shared by processes: requests/s at the limit, token issuances, paged balance
    python -m bench.live      the live runner at the open: 10,000 deployments decided, intents persisted, the guard
    python -m bench.orders    the order ledger: ticket to persisted and to acknowledged, 100 orders over 20 accounts, a 10,000-order reconciliation

``bench.stats``, ``bench.websocket``, ``bench.load`` (wrk or a Python load generator) and ``bench.stack``
(the platform started as subprocesses) are their shared parts. Nothing here is imported by the product.
"""
