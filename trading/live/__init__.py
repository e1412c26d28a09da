"""Live and paper trading of strategies: deployments, the runner, the conflict guard's records,
daily summaries and the drift report (issue 16). See ``trading/live/models.py`` for the rows."""
