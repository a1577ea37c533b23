"""Print the PostgreSQL URL for the second test run if a server answers there; print nothing otherwise."""

import os

import psycopg

DEFAULT = "postgres://postgres@127.0.0.1:5432/test"


def main():
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        url = DEFAULT
    try:
        psycopg.connect(url.replace("postgres://", "postgresql://", 1), connect_timeout=3).close()
    except psycopg.Error:
        return
    print(url)


if __name__ == "__main__":
    main()
