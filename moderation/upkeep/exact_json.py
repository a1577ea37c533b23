"""Django's JSON fixtures, with times to the microsecond.

Django's own JSON encoder cuts times to milliseconds; the audit chain's hashes cover each entry's
time to the microsecond, so a backup written with it would restore a broken chain. Registered as
the serialization format "exact_json" (settings.SERIALIZATION_MODULES) for `moderation.upkeep.backup`.
"""

import datetime

from django.core.serializers.json import Deserializer, DjangoJSONEncoder  # noqa: F401 - read as Django reads JSON
from django.core.serializers.json import Serializer as JSONSerializer


class ExactEncoder(DjangoJSONEncoder):
    def default(self, o):
        if isinstance(o, (datetime.datetime, datetime.time)):
            return o.isoformat()  # microseconds kept
        return super().default(o)


class Serializer(JSONSerializer):
    def _init_options(self):
        super()._init_options()
        self.json_kwargs["cls"] = ExactEncoder
