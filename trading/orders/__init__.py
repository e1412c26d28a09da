"""The order ledger (issue 14): orders, fills, positions, submission jobs and reconciliation."""
