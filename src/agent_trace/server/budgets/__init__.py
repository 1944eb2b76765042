"""Budgets on the server: spend per budget (spend.py), the hook decision (guard.py), alerts
(alerts.py) and the service that keeps them current (service.py)."""
