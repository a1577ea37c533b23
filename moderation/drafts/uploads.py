"""An upload handler that stops reading a file as soon as it is larger than the product accepts,
instead of writing all of it to a temporary file first (MEDIA_MAX_BYTES)."""

from django.conf import settings
from django.core.files.uploadhandler import SkipFile, TemporaryFileUploadHandler


class LimitedUploadHandler(TemporaryFileUploadHandler):
    def new_file(self, field_name, file_name, *args, **kwargs):
        self.received = 0
        super().new_file(field_name, file_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.MEDIA_MAX_BYTES:
            # The view says why the file is missing; what was written so far is discarded.
            self.request.upload_too_large = self.file_name
            self.file.close()
            raise SkipFile()
        return super().receive_data_chunk(raw_data, start)
