import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()

# The language model takes about two seconds to load: load it when the server starts (once, before
# the workers fork, with gunicorn --preload), not in the first request that shows a draft.
from moderation.text import language  # noqa: E402

language.warm_up()
