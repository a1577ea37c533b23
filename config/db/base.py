"""Django's PostgreSQL backend, with the connection telling the database which schools its work
may see before each query (config/school/wall.py: the second wall between schools).

PostgreSQL undoes a setting changed in a transaction that is rolled back, or after a savepoint
that is, or in a failed transaction that is committed (PostgreSQL rolls it back): after any of
these, the setting is sent again before the next query (tests/school/test_database_wall.py)."""

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus

from config.school import wall


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.school_wall = None  # what app.school was last set to on this connection
        self.execute_wrappers.append(wall.tell_the_database)

    def get_new_connection(self, conn_params):
        self.school_wall = None
        return super().get_new_connection(conn_params)

    def _commit(self):
        failed = self.connection is not None and self.connection.info.transaction_status == TransactionStatus.INERROR
        try:
            return super()._commit()
        except Exception:
            failed = True  # a commit that fails (a deferred constraint) is rolled back
            raise
        finally:
            if failed:
                self.school_wall = None

    def _rollback(self):
        try:
            return super()._rollback()
        finally:
            self.school_wall = None

    def _savepoint_rollback(self, sid):
        try:
            return super()._savepoint_rollback(sid)
        finally:
            self.school_wall = None
