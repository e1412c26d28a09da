"""The paper broker's Django side: its book (accounts' cash, resting orders, fills, positions) in the
database so every process sees one book; the matching rules are pure in ``trading/brokers/paper.py``."""
