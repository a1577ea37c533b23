from django.apps import AppConfig


class ModerationConfig(AppConfig):
    name = "moderation"
    verbose_name = "Moderation"

    def ready(self):
        # Django's way to connect signal receivers: importing the module registers them.
        from moderation.aftercare import erasure  # noqa: F401
