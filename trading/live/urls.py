"""Pages of deployments, in the ``trading`` namespace under ``/trading/deployments/``."""

urlpatterns: list = []
