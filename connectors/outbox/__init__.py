from connectors.outbox.connector import OutboxConnector

__all__ = ["OutboxConnector"]
