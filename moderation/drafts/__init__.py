"""Drafts: writing a post, its media and their analysis, and the draft's status with its named transitions.
"""
