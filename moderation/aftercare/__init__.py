"""After publishing: comments read and raised, concerns from staff and families, take-down, erasure
of a pupil and retention.
"""
