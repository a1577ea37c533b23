"""The demonstration school's data (`make run`), also used by the tests' channels.
"""
