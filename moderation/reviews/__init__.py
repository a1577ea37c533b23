"""The headteacher's oversight: channels and their risk assessments, annual reviews, the audit trail.
"""
