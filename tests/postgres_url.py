"""Print the PostgreSQL URL for the second test run if a server answers there; print nothing otherwise.

PostgreSQL applies no row-level policy to a superuser (config/school/wall.py), so the suite
connects as an ordinary role, as a school's installation does: given a superuser's address, this
makes the role (allowed to create the test databases) and prints its address instead."""

import os

import psycopg

DEFAULT = "postgres://postgres@127.0.0.1:5432/test"
ROLE = "moderation_tests"


def as_ordinary_role(url: str) -> str:
    with psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=3, autocommit=True) as connection:
        superuser, bypass = connection.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (superuser or bypass):
            return url
        if connection.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [ROLE]).fetchone() is None:
            connection.execute(f"CREATE ROLE {ROLE} LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS")
        # The audit chain's tests play a database administrator switching its triggers off
        # (PostgreSQL 15 and later; before, those tests fail and say why).
        try:
            connection.execute(f"GRANT SET ON PARAMETER session_replication_role TO {ROLE}")
        except psycopg.errors.SyntaxError:
            pass
    scheme, rest = url.split("://", 1)
    host = rest.rsplit("@", 1)[-1].split("/", 1)[0]
    return f"{scheme}://{ROLE}@{host}/{ROLE}"


def main():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT
    try:
        url = as_ordinary_role(url)
    except psycopg.Error:
        return
    print(url)


if __name__ == "__main__":
    main()
