"""Helpers shared by the tests: the named cast, a bot harness, a live web app, a worker process."""
