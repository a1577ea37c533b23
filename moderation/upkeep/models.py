"""The worker's heartbeat.
"""

from django.db import models


class WorkerBeat(models.Model):
    """The worker's last sign of life, per host and process, for `/health/`."""

    name = models.CharField(max_length=200, unique=True)
    beat_at = models.DateTimeField()
