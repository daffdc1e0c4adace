"""Driver errors as ordersync's error types, decided by what the caller should do about them.

    ConnectionLostError      the connection is gone: reopen it, then retry
    TransientWarehouseError  retry (serialization failure, deadlock, lock timeout, disk full, ...)
    WarehouseError           permanent: the statement or the data is wrong (syntax, constraint, ...)

The tables are plain data (no driver import) so both backends, and the tests proving every driver
error has a decision, read the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

from ordersync.errors import ConnectionLostError, TransientWarehouseError, WarehouseError

Kind = type[WarehouseError]
LOST: Kind = ConnectionLostError
TRANSIENT: Kind = TransientWarehouseError
PERMANENT: Kind = WarehouseError

# --- PostgreSQL ---------------------------------------------------------------------------------
#: Every SQLSTATE class PostgreSQL defines (the first two characters of the code).
PG_SQLSTATE_CLASSES: dict[str, Kind] = {
    "01": PERMANENT,  # warning (never raised as an error)
    "02": PERMANENT,  # no data
    "03": PERMANENT,  # SQL statement not yet complete
    "08": LOST,  # connection exception
    "09": PERMANENT,  # triggered action exception
    "0A": PERMANENT,  # feature not supported
    "0B": PERMANENT,  # invalid transaction initiation
    "0F": PERMANENT,  # locator exception
    "0L": PERMANENT,  # invalid grantor
    "0P": PERMANENT,  # invalid role specification
    "0Z": PERMANENT,  # diagnostics exception
    "10": PERMANENT,  # XQuery error
    "20": PERMANENT,  # case not found
    "21": PERMANENT,  # cardinality violation
    "22": PERMANENT,  # data exception
    "23": PERMANENT,  # integrity constraint violation
    "24": PERMANENT,  # invalid cursor state
    "25": PERMANENT,  # invalid transaction state
    "26": PERMANENT,  # invalid SQL statement name
    "27": PERMANENT,  # triggered data change violation
    "28": PERMANENT,  # invalid authorization specification
    "2B": PERMANENT,  # dependent privilege descriptors still exist
    "2D": PERMANENT,  # invalid transaction termination
    "2F": PERMANENT,  # SQL routine exception
    "34": PERMANENT,  # invalid cursor name
    "38": PERMANENT,  # external routine exception
    "39": PERMANENT,  # external routine invocation exception
    "3B": PERMANENT,  # savepoint exception
    "3D": PERMANENT,  # invalid catalog name
    "3F": PERMANENT,  # invalid schema name
    "40": TRANSIENT,  # transaction rollback: serialization failure, deadlock
    "42": PERMANENT,  # syntax error or access rule violation
    "44": PERMANENT,  # WITH CHECK OPTION violation
    "53": TRANSIENT,  # insufficient resources: disk full, out of memory, too many connections
    "54": PERMANENT,  # program limit exceeded
    "55": PERMANENT,  # object not in prerequisite state
    "57": TRANSIENT,  # operator intervention
    "58": TRANSIENT,  # system error (I/O)
    "72": TRANSIENT,  # snapshot too old
    "F0": PERMANENT,  # configuration file error
    "HV": PERMANENT,  # foreign data wrapper error
    "P0": PERMANENT,  # PL/pgSQL error
    "XX": PERMANENT,  # internal error, data or index corrupted
}

#: Codes decided differently from their class.
PG_SQLSTATE_CODES: dict[str, Kind] = {
    "40002": PERMANENT,  # transaction_integrity_constraint_violation
    "25P03": LOST,  # idle_in_transaction_session_timeout: the server closed the session
    "25P04": LOST,  # transaction_timeout (PostgreSQL 17): the server closed the session
    "55P03": TRANSIENT,  # lock_not_available (lock_timeout, NOWAIT)
    "55006": TRANSIENT,  # object_in_use
    "57P01": LOST,  # admin_shutdown (pg_terminate_backend, a restart)
    "57P02": LOST,  # crash_shutdown
    "57P03": LOST,  # cannot_connect_now (starting up, shutting down, in recovery)
    "57P04": PERMANENT,  # database_dropped
    "57P05": LOST,  # idle_session_timeout
    "58P01": PERMANENT,  # undefined_file
    "58P02": PERMANENT,  # duplicate_file
}

#: psycopg's own exceptions, raised with no SQLSTATE (by the client library, not the server).
PSYCOPG_NO_SQLSTATE: dict[str, Kind] = {
    "OperationalError": LOST,  # the connection failed or broke; see pg_error_kind for the exceptions
    "ConnectionTimeout": LOST,
    "CancellationTimeout": TRANSIENT,
    "PipelineAborted": PERMANENT,
    "InterfaceError": PERMANENT,
    "DataError": PERMANENT,  # e.g. a NUL byte in a text value
    "IntegrityError": PERMANENT,
    "InternalError": PERMANENT,
    "ProgrammingError": PERMANENT,  # e.g. a value psycopg cannot adapt, a wrong parameter count
    "NotSupportedError": PERMANENT,
    "DatabaseError": PERMANENT,
    "Error": PERMANENT,
}

# A refusal the server sends while starting, stopping or full: worth retrying later.
_PG_TRANSIENT_FATAL = (
    "the database system is",  # starting up / shutting down / in recovery mode / not yet accepting
    "too many clients",
    "remaining connection slots are reserved",
    "terminating connection",
)


def pg_error_kind(sqlstate: str | None, class_names: Iterable[str], message: str) -> Kind:
    """The kind of a psycopg error: by SQLSTATE when the server sent one, else by psycopg's class
    (`class_names`: the exception's class and its bases, most specific first)."""
    if sqlstate:
        return PG_SQLSTATE_CODES.get(sqlstate) or PG_SQLSTATE_CLASSES.get(sqlstate[:2], PERMANENT)
    names = list(class_names)
    kind = next((PSYCOPG_NO_SQLSTATE[n] for n in names if n in PSYCOPG_NO_SQLSTATE), PERMANENT)
    if kind is LOST and names and names[0] == "OperationalError":
        # A connection attempt the server answered and refused for good (no such database or role,
        # authentication failed) is not a lost connection: retrying cannot help.
        low = message.lower()
        if "fatal:" in low and not any(m in low for m in _PG_TRANSIENT_FATAL):
            return PERMANENT
    return kind


# --- DuckDB -------------------------------------------------------------------------------------
#: Every exception class the duckdb module defines, by name.
DUCKDB_ERRORS: dict[str, Kind] = {
    "Error": PERMANENT,
    "Warning": PERMANENT,
    "DatabaseError": PERMANENT,
    "DataError": PERMANENT,
    "ConversionException": PERMANENT,
    "OutOfRangeException": PERMANENT,
    "TypeMismatchException": PERMANENT,
    "IntegrityError": PERMANENT,
    "ConstraintException": PERMANENT,
    "ProgrammingError": PERMANENT,
    "BinderException": PERMANENT,
    "CatalogException": PERMANENT,
    "InvalidInputException": PERMANENT,
    "InvalidTypeException": PERMANENT,
    "ParserException": PERMANENT,
    "SyntaxException": PERMANENT,
    "NotSupportedError": PERMANENT,
    "NotImplementedException": PERMANENT,
    "DependencyException": PERMANENT,
    "PermissionException": PERMANENT,
    "SequenceException": PERMANENT,
    "SerializationException": PERMANENT,  # DuckDB's storage (de)serialization, not isolation
    "InternalError": PERMANENT,
    "InternalException": PERMANENT,
    "OperationalError": TRANSIENT,
    "OutOfMemoryException": TRANSIENT,  # the buffer pool is shared with the process's other connections
    "InterruptException": TRANSIENT,
    "ResourceInUseException": PERMANENT,  # e.g. a result left unfetched on the connection
    "HTTPException": TRANSIENT,
    "IOException": PERMANENT,  # a missing or unreadable file; disk full is told apart below
    "TransactionException": PERMANENT,  # misuse; conflicts are told apart below
    "ConnectionException": LOST,
    "FatalException": LOST,  # the database is invalidated: only a new connection works again
}

_DUCKDB_DISK_FULL = ("no space left on device", "disk is full", "disk full", "not enough space")


def disk_full_hint(message: str, where: str) -> str | None:
    """Advice for a write that failed for want of space, naming the file's place; None otherwise."""
    if not any(m in message.lower() for m in _DUCKDB_DISK_FULL):
        return None
    return f"the disk holding {where} is full: free space there, then run again; nothing half-written was kept"


def duckdb_error_kind(class_names: Iterable[str], message: str) -> Kind:
    """The kind of a duckdb error (`class_names`: its class and bases, most specific first)."""
    names = list(class_names)
    kind = next((DUCKDB_ERRORS[n] for n in names if n in DUCKDB_ERRORS), PERMANENT)
    low = message.lower()
    if "database has been invalidated" in low or "database is invalidated" in low:
        return LOST
    if any(m in low for m in _DUCKDB_DISK_FULL):
        return TRANSIENT
    if names and names[0] == "TransactionException" and ("conflict" in low or "failed to commit" in low):
        return TRANSIENT  # another connection changed the same rows or catalog entry first
    return kind


# --- messages -----------------------------------------------------------------------------------
_ADVICE: dict[Kind, str] = {
    LOST: "the connection is lost: reopen the warehouse and retry",
    TRANSIENT: "transient: retry",
}


MISSING_SCHEMA_HINT = "if ordersync's schema is missing or old, run `ordersync init`"


def make_error(
    kind: Kind,
    backend: str,
    message: str,
    *,
    context: str = "",
    secrets: Iterable[str] = (),
    hint: str | None = None,
) -> WarehouseError:
    """The error to raise (chain it `from` the driver's), one line, with no secret in it."""
    text = " ".join(message.split())
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    head = f"{backend}: {context}: " if context else f"{backend}: "
    advice = hint or _ADVICE.get(kind)
    return kind(f"{head}{text} ({advice})" if advice else f"{head}{text}")
