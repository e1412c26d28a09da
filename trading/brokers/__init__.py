"""Broker clients behind one protocol (``base.py``): KIS, Kiwoom and the paper broker.

Pure package: no Django imports. The Django edge (``trading/connections.py``) builds clients from a
``BrokerAccount``, with the token store and request budget every process shares.
"""
