"""Benchmarks: scripts run as ``bench/run.py`` and ``bench/bot_updates.py``; importable for tests."""
