"""On PostgreSQL, a second wall between schools: the database itself shows a connection only the
rows of the school its work is for (row-level security).

The first wall is the query: every model holding a school's data has a scoped manager
(scoping.py) that filters to the school in scope. A path that does not go through those managers
(a related row fetched through Django's base manager, raw SQL, a manager's scope switched off by
mistake) would pass it; this wall still holds there. Before each query the connection tells
PostgreSQL which schools the work in hand may see (the setting `app.school`: school ids, `none`,
or `all` for work that is the installation's own: migrations, the worker's rounds, backups), and
every table of a scoped model has a policy that shows and accepts only those schools' rows (a
table reaching its school through another, a photo through its draft, shows a row only when the
row it belongs to is visible). A connection that says nothing (an older release still running
while an upgrade is rolled out, psql) is not walled: closed, an older worker's tidy round would
find no row naming any school's files and delete them all. This release's connections always say.

PostgreSQL applies no policy to a superuser or a role with BYPASSRLS: the product must connect
as an ordinary role that owns its tables (the README's production section; FORCE ROW LEVEL
SECURITY applies the policies to the owner). `python manage.py check` warns when it does not, and
/health/ says whether the wall is up.
"""

from django.apps import apps
from django.core.checks import Warning
from django.db import connections, transaction
from django_scopes import get_scope
from psycopg.pq import TransactionStatus

SETTING = "app.school"
EVERY_SCHOOL, NO_SCHOOL = "all", "none"
POLICY = "one_school_at_a_time"

# The functions the policies call, and their bodies (replaced only when they differ).
FUNCTIONS = {
    "school_wall_open": ("boolean", f"""
    SELECT coalesce(current_setting('{SETTING}', true), '') IN ('{EVERY_SCHOOL}', '')
"""),
    "school_wall_ids": ("bigint[]", f"""
    SELECT CASE WHEN current_setting('{SETTING}', true) ~ '^[0-9]+(,[0-9]+)*$'
                THEN string_to_array(current_setting('{SETTING}', true), ',')::bigint[]
                ELSE '{{}}'::bigint[] END
"""),
}
# Statements that must not be preceded by the setting: a transaction's isolation level must be its
# first statement, and savepoints are made and undone around what the setting changes.
TRANSACTION_CONTROL = ("SET TRANSACTION", "SAVEPOINT", "RELEASE", "ROLLBACK")


def value() -> str:
    """What the work in hand may see, from django-scopes' state in this thread."""
    state = get_scope()
    if not state.get("_enabled", True) or "school" not in state:
        # Scopes switched off, or work outside any school (a migration, the worker's own loop):
        # the installation's. Scoped managers still refuse to read outside a scope.
        return EVERY_SCHOOL
    schools = state["school"]
    if schools is None:
        return EVERY_SCHOOL
    if not isinstance(schools, (list, tuple)):
        schools = [schools]
    ids = [str(int(getattr(s, "pk", s))) for s in schools]
    return ",".join(ids) if ids else NO_SCHOOL


def tell_the_database(execute, sql, params, many, context):
    """A query wrapper (connection.execute_wrappers): before a query, the connection's
    `app.school` is brought up to date when the work's schools changed since it was last set.
    Not in a failed transaction (the query itself then fails, as Django expects)."""
    connection = context["connection"]
    wanted = value()
    if (connection.school_wall != wanted and connection.connection is not None
            and not sql.lstrip()[:15].upper().startswith(TRANSACTION_CONTROL)
            and connection.connection.info.transaction_status != TransactionStatus.INERROR):
        # A cursor of its own (the query's may be a server-side one, declared for that query
        # only), its errors Django's as the query's are.
        with connection.wrap_database_errors, connection.connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, false)", [SETTING, wanted])
        connection.school_wall = wanted
    return execute(sql, params, many, context)


def _policies() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """Every table of a scoped model: the condition its rows are shown and written on, and the
    (table, column) pairs that condition reads."""
    out = []
    for model in apps.get_models():
        path = getattr(model._default_manager, "school_path", None)
        if path is None or model._meta.proxy or not model._meta.managed:
            continue
        table = model._meta.db_table
        first = path.split("__")[0]
        if first == "school":
            condition, needs = "school_id = ANY ((SELECT school_wall_ids())::bigint[])", [(table, "school_id")]
        else:
            # Visible when the row it belongs to is: that table's own policy decides.
            field = model._meta.get_field(first)
            owner = field.related_model._meta
            condition = f'EXISTS (SELECT 1 FROM "{owner.db_table}" o WHERE o."{owner.pk.column}" = "{table}"."{field.column}")'
            needs = [(table, field.column), (owner.db_table, owner.pk.column)]
        # (SELECT …): worked out once a query, not once a row.
        out.append((table, f"(SELECT school_wall_open()) OR {condition}", needs))
    return sorted(out)


def walled_tables() -> list[tuple[str, str]]:
    """Every table of a scoped model, with the condition its rows are shown and written on."""
    return [(table, condition) for table, condition, _ in _policies()]


def build(using: str = "default") -> list[str]:
    """The wall, brought up to date (after every migrate), in one transaction: a table whose
    policy is already as it should be is not touched (altering a table locks it). A table as an
    older schema has it, without the column its policy needs (migrated back to a release of one
    school), is left without the wall rather than without its rows; a table that no longer holds a
    school's data loses its policy. Returns the tables walled."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    walled, columns = [], {}
    with transaction.atomic(using=using), connection.cursor() as cursor:
        _functions(cursor)
        cursor.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, p.oid IS NOT NULL, obj_description(p.oid, 'pg_policy') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
            "LEFT JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = %s WHERE c.relkind = 'r'", [POLICY])
        tables = {name: (enabled, forced, has_policy, comment) for name, enabled, forced, has_policy, comment in cursor.fetchall()}
        for table, condition, needs in _policies():
            if table not in tables:
                continue
            for owner, _ in needs:
                if owner in tables and owner not in columns:
                    columns[owner] = {c.name for c in connection.introspection.get_table_description(cursor, owner)}
            if not all(column in columns.get(owner, ()) for owner, column in needs):
                if tables[table][:3] != (False, False, False):
                    _take_down(cursor, table)
                continue
            walled.append(table)
            if tables[table] == (True, True, True, condition):
                continue
            cursor.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
            cursor.execute(f'CREATE POLICY {POLICY} ON "{table}" USING ({condition}) WITH CHECK ({condition})')
            cursor.execute(f'COMMENT ON POLICY {POLICY} ON "{table}" IS %s', [condition])
            cursor.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            cursor.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        for table, (_, _, has_policy, _) in tables.items():
            if has_policy and table not in walled:
                _take_down(cursor, table)
    return walled


def _functions(cursor) -> None:
    cursor.execute("SELECT proname, prosrc FROM pg_proc JOIN pg_namespace n ON n.oid = pronamespace "
                   "WHERE n.nspname = current_schema() AND proname = ANY (%s)", [list(FUNCTIONS)])
    present = dict(cursor.fetchall())
    for name, (returns, body) in FUNCTIONS.items():
        if present.get(name) != body:
            cursor.execute(f"CREATE OR REPLACE FUNCTION {name}() RETURNS {returns} LANGUAGE sql STABLE PARALLEL SAFE "
                           f"AS $${body}$$")


def _take_down(cursor, table) -> None:
    cursor.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
    cursor.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
    cursor.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')


def build_after_migrate(sender, using="default", **kwargs):
    """After every migrate (post_migrate, sent once all migrations have run): new tables get theirs."""
    build(using)


def state(using: str = "default") -> str:
    """'up', or why the wall is not: for /health/ and `manage.py check`."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return "not PostgreSQL: the scoped queries are the only wall"
    tables = [table for table, _ in walled_tables()]
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        superuser, bypass = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema() "
                       "JOIN pg_policy p ON p.polrelid = c.oid AND p.polname = %s "
                       "WHERE c.relrowsecurity AND c.relforcerowsecurity AND c.relname = ANY (%s)", [POLICY, tables])
        (policies,) = cursor.fetchone()
    if superuser or bypass:
        return ("down: the product connects to PostgreSQL as a superuser or a role with BYPASSRLS, to which no "
                "policy applies; connect as an ordinary role that owns the tables (README, production)")
    if policies < len(tables):
        return f"down: {policies} of {len(tables)} tables have their policy in force; run python manage.py migrate"
    return "up"


def check(app_configs=None, databases=None, **kwargs):
    """`python manage.py check --database default`: a warning when the wall is down."""
    if not databases or "default" not in databases:
        return []
    now = state()
    if now.startswith("down"):
        return [Warning(f"The database's wall between schools is {now}.", id="school.W001")]
    return []
