"""Staff accounts: the Acceptable Use Policy and the second factor.
"""
