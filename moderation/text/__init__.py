"""Checking words: personal data, respectful language, hostility. Used by the gates and by
comment monitoring; no models.
"""
