"""Approval by a second colleague: faces, tracks and words decided, language judged, attestations
confirmed, approved or sent back.
"""
