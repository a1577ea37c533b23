"""Files that no row needs any more are deleted.

A file is deleted when it is no longer needed (a photo removed, a draft published or withdrawn, its
uploads past retention); when the storage did not answer at that moment (a bucket out of reach),
the file stays behind, an original that should be gone. The worker's tidy round finds such files and deletes them.
A file is left a day first: an upload or a publication in progress has its file before its row.
"""

import logging
from datetime import timedelta
from pathlib import PurePosixPath

from django.utils import timezone

from config.school import files
from config.school.tenancy import scopes_disabled
from moderation.models import Draft, MediaFile, PublishedMedia
from moderation.publishing.models import THUMBNAIL

logger = logging.getLogger(__name__)

LEFT_FOR = timedelta(days=1)


def named() -> dict[str, set[str]]:
    """The stored names that rows still need. A draft published or withdrawn, or whose uploads
    retention deleted, keeps its rows but needs none of its uploads or video copies any more."""
    published = set()
    for name in PublishedMedia.objects.values_list("stored_name", flat=True):
        published |= {name, str(PurePosixPath(name).with_suffix(THUMBNAIL))}
    needed = MediaFile.objects.exclude(draft__status__in=[Draft.Status.PUBLISHED, Draft.Status.WITHDRAWN]).filter(
        draft__originals_deleted_at__isnull=True)
    return {
        files.UPLOADS: set(needed.values_list("stored_name", flat=True)),
        files.COPIES: set(needed.exclude(copy_name="").values_list("copy_name", flat=True)),
        files.PUBLISHED: published,
    }


@scopes_disabled()  # every school's files: the storage is the installation's
def delete_strays(now=None) -> int:
    """Delete the files no row needs that are older than a day; returns how many."""
    before = (now or timezone.now()) - LEFT_FOR
    deleted = 0
    for area, names in named().items():
        try:
            deleted += _delete_strays_in(area, names, before)
        except Exception:  # the storage out of reach: tried again at the next round
            logger.exception("The stray files in %s could not be looked for", area)
    return deleted


def _delete_strays_in(area: str, names: set[str], before) -> int:
    storage, deleted = files.storage(area), 0
    for name in files.names(area, half_written=True):
        if name in names:
            continue
        try:
            if storage.get_modified_time(name) >= before:
                continue
        except Exception:  # deleted meanwhile (a bucket answers 404 in its own words): nothing to do
            continue
        if files.remove(area, name):
            logger.info("%s/%s deleted: no draft or post names it", area, name)
            deleted += 1
    return deleted
