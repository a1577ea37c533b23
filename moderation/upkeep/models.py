"""The worker's heartbeat, and which worker's clock is the installation's.
"""

from django.db import models


class WorkerBeat(models.Model):
    """The worker's last sign of life, per host and process, for `/health/`."""

    name = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField()


class ClockLease(models.Model):
    """Which worker's clock enqueues the rounds and the posts due: one per installation, however
    many workers run. The holder renews it every half minute; a lease not renewed for
    LEASE_SECONDS (its worker died) is taken over by the next clock that asks."""

    name = models.CharField(max_length=40, unique=True)  # "clock"
    holder = models.CharField(max_length=200)
    until = models.DateTimeField()
