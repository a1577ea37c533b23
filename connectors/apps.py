from django.apps import AppConfig


class ConnectorsConfig(AppConfig):
    name = "connectors"
    verbose_name = "Platform connections"

    def ready(self):
        # Each platform's package registers its connector (connectors.base.register) when imported.
        from connectors import facebook, outbox, youtube  # noqa: F401
