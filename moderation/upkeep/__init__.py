"""Keeping the service running: the worker, its health, stopping work, backup and restore.
"""
