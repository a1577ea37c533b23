"""Publishing: the published copies, sending, scheduling, the worker's publishing rounds, the
publication log, the school's news page and the families' page.
"""
