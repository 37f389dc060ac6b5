"""SQL provisioning over TCP with PyMySQL, for MySQL 8.x and MariaDB 10.11+/11.x (ops-free).

The charm connects as root to 127.0.0.1 (its container shares the pod's network with the
server) and uses `Provisioner` to create databases and users, grant, rotate passwords and
drop users. Every operation first looks at the current state, so a repeated call is a no-op
that writes nothing.

Flavour differences handled here:
- detection from `VERSION()` and `@@version_comment`;
- MySQL names the authentication plugin (`IDENTIFIED WITH mysql_native_password BY ...`)
  when native passwords are wanted, and a missing plugin (MySQL 8.4 started without
  `--mysql-native-password=ON`, MySQL 9) is reported, not worked around; MariaDB's default
  plugin already is `mysql_native_password`, so it gets plain `IDENTIFIED BY`;
- the plugin check reads `mysql.user` (a table on MySQL, a view on MariaDB);
- the dump and client binaries differ (see `mysql_server.dump_command`).

Passwords travel only as bound parameters. Errors never carry them: a failing statement
that holds a password is reported by its error code alone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pymysql
import pymysql.err

logger = logging.getLogger(__name__)

_DATABASE_NAME = re.compile(r"[A-Za-z0-9_$-]{1,64}")
_USER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_HOST = re.compile(r"[A-Za-z0-9_.:%-]{1,255}")
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
NATIVE_PLUGIN = "mysql_native_password"
# Privileges of a relation user on its database (ALL PRIVILEGES at database level).
_DB_PRIVILEGE_COLUMNS = (
    "Select_priv",
    "Insert_priv",
    "Update_priv",
    "Delete_priv",
    "Create_priv",
    "Drop_priv",
    "Index_priv",
    "Alter_priv",
    "References_priv",
    "Create_tmp_table_priv",
    "Lock_tables_priv",
    "Create_view_priv",
    "Show_view_priv",
    "Create_routine_priv",
    "Alter_routine_priv",
    "Execute_priv",
    "Event_priv",
    "Trigger_priv",
)
EXPORTER_PRIVILEGES = ("PROCESS", "REPLICATION CLIENT", "SELECT")

# Client-side error codes (CR_*) and server codes (ER_*) that mean "try again later".
_TRANSIENT_CODES = frozenset({1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055})
_ACCESS_DENIED = 1045
_PLUGIN_NOT_LOADED = 1524


class Flavour(str, enum.Enum):
    """Server flavour."""

    MYSQL = "mysql"
    MARIADB = "mariadb"


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What the server says it is.

    Attributes:
        flavour: MySQL or MariaDB.
        version: `VERSION()` as the server reports it (published to requirers).
        version_tuple: major, minor, patch.
    """

    flavour: Flavour
    version: str
    version_tuple: tuple[int, int, int]


class ProvisioningError(Exception):
    """A provisioning operation failed. The message never contains a password.

    Attributes:
        transient: whether retrying later may succeed (server starting, restarting, busy).
        code: the MySQL error code, if any.
    """

    transient = False

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class ServerUnavailableError(ProvisioningError):
    """The server cannot be reached or dropped the connection (retry later)."""

    transient = True


class AccessDeniedError(ProvisioningError):
    """The server rejected the credentials."""


class InvalidNameError(ProvisioningError, ValueError):
    """A database, user or host name is not acceptable."""


def detect_server(version: str, version_comment: str) -> ServerInfo:
    """Build `ServerInfo` from `SELECT VERSION(), @@version_comment`.

    MariaDB says so in its version (`10.11.6-MariaDB-0+deb12u1`) or comment
    (`mariadb.org binary distribution`); MySQL in neither.
    """
    flavour = (
        Flavour.MARIADB
        if "mariadb" in version.lower() or "mariadb" in version_comment.lower()
        else Flavour.MYSQL
    )
    numbers = [int(n) for n in re.findall(r"\d+", version.split("-", 1)[0])[:3]]
    numbers += [0] * (3 - len(numbers))
    return ServerInfo(flavour, version, (numbers[0], numbers[1], numbers[2]))


def check_database_name(name: str) -> str:
    """Validate a requested database name.

    Raises:
        InvalidNameError: the name is not 1-64 characters out of `A-Z a-z 0-9 _ $ -`, or is a
            system schema.
    """
    if not isinstance(name, str) or not _DATABASE_NAME.fullmatch(name):
        raise InvalidNameError("database name must be 1-64 characters out of A-Z a-z 0-9 _ $ -")
    if name.lower() in SYSTEM_DATABASES:
        raise InvalidNameError(f"database name {name!r} is a system schema")
    return name


def _check_account(user: str, host: str) -> None:
    if not _USER_NAME.fullmatch(user):
        raise InvalidNameError("user name must be 1-32 characters out of A-Z a-z 0-9 _ . -")
    if not _HOST.fullmatch(host):
        raise InvalidNameError("host must be a host name, an IP address or a % pattern")


def quote_identifier(name: str) -> str:
    """Backtick-quote an identifier (backticks doubled)."""
    return "`" + name.replace("`", "``") + "`"


def grant_pattern(database: str) -> str:
    """The database name as a GRANT pattern: `_` and `%` escaped so they match only themselves."""
    return database.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")


def _translate(err: pymysql.err.MySQLError, what: str, *, sensitive: bool) -> ProvisioningError:
    code = err.args[0] if err.args and isinstance(err.args[0], int) else None
    detail = "" if sensitive else f": {err.args[1] if len(err.args) > 1 else err}"
    message = f"{what} failed (error {code}){detail}" if code else f"{what} failed{detail}"
    if code == _ACCESS_DENIED:
        return AccessDeniedError(message, code)
    if code in _TRANSIENT_CODES or isinstance(err, pymysql.err.InterfaceError):
        return ServerUnavailableError(message, code)
    return ProvisioningError(message, code)


class Provisioner:
    """Provisioning operations on one open connection (use `connect`)."""

    def __init__(self, connection: Any):
        """Wrap an open PyMySQL connection (autocommit on)."""
        self._conn = connection
        self._info: ServerInfo | None = None

    @classmethod
    @contextmanager
    def connect(
        cls,
        *,
        host: str,
        port: int,
        user: str,
        password: str,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> Iterator[Provisioner]:
        """Open a connection, yield a `Provisioner`, close it.

        Raises:
            ServerUnavailableError: cannot connect (server down, starting, unreachable).
            AccessDeniedError: wrong user or password.
            ProvisioningError: any other server error.
        """
        try:
            connection = pymysql.connect(
                host=host,
                port=port,
                user=user,
                password=password,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                write_timeout=read_timeout,
                autocommit=True,
                charset="utf8mb4",
            )
        except pymysql.err.MySQLError as err:
            raise _translate(
                err, f"connecting to {host}:{port} as {user}", sensitive=False
            ) from None
        except OSError as err:  # e.g. connect timeout surfacing as a socket error
            raise ServerUnavailableError(f"connecting to {host}:{port}: {err}") from None
        try:
            yield cls(connection)
        finally:
            with contextlib.suppress(pymysql.err.MySQLError):  # already gone: nothing to free
                connection.close()

    # ---------------------------------------------------------------- low level

    def _run(
        self, sql: str, args: Sequence[Any] | None = None, *, what: str, sensitive: bool = False
    ) -> list[tuple[Any, ...]]:
        try:
            with self._conn.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        except pymysql.err.MySQLError as err:
            raise _translate(err, what, sensitive=sensitive) from None

    # ---------------------------------------------------------------- inspection

    def server_info(self) -> ServerInfo:
        """The server's flavour and version (queried once per connection)."""
        if self._info is None:
            rows = self._run("SELECT VERSION(), @@version_comment", what="reading the version")
            self._info = detect_server(str(rows[0][0]), str(rows[0][1] or ""))
        return self._info

    def databases(self) -> list[str]:
        """Application databases (system schemas excluded), sorted."""
        rows = self._run("SHOW DATABASES", what="listing databases")
        return sorted(str(r[0]) for r in rows if str(r[0]).lower() not in SYSTEM_DATABASES)

    def accounts(self, user_like: str = "%") -> list[tuple[str, str]]:
        """`(user, host)` of the accounts whose name matches a LIKE pattern, sorted."""
        rows = self._run(
            "SELECT User, Host FROM mysql.user WHERE User LIKE %s",
            (user_like,),
            what="listing users",
        )
        return sorted((str(r[0]), str(r[1])) for r in rows)

    def _plugin(self, user: str, host: str) -> str | None:
        rows = self._run(
            "SELECT plugin FROM mysql.user WHERE User = %s AND Host = %s",
            (user, host),
            what=f"reading user {user}@{host}",
        )
        return None if not rows else str(rows[0][0] or "")

    def user_exists(self, user: str, host: str) -> bool:
        """Whether the account exists."""
        _check_account(user, host)
        return self._plugin(user, host) is not None

    # ---------------------------------------------------------------- changes

    def ensure_database(self, name: str) -> bool:
        """Create the database if missing (utf8mb4).

        Returns:
            Whether it was created.
        """
        check_database_name(name)
        if name in self.databases():
            return False
        self._run(
            f"CREATE DATABASE IF NOT EXISTS {quote_identifier(name)} CHARACTER SET utf8mb4",
            what=f"creating database {name}",
        )
        logger.info("created database %s", name)
        return True

    def _identified(self, native_password: bool) -> str:
        if native_password and self.server_info().flavour is Flavour.MYSQL:
            return f"IDENTIFIED WITH {NATIVE_PLUGIN} BY %s"
        return "IDENTIFIED BY %s"

    def _wanted_plugin(self, native_password: bool) -> str | None:
        """The plugin an account must have, or None when any is fine (MariaDB, MySQL default)."""
        if native_password and self.server_info().flavour is Flavour.MYSQL:
            return NATIVE_PLUGIN
        return None

    def _auth_statement(
        self, verb: str, user: str, host: str, password: str, native: bool
    ) -> None:
        try:
            self._run(
                f"{verb} USER %s@%s {self._identified(native)}",
                (user, host, password),
                what=f"{verb.lower()} user {user}@{host}",
                sensitive=True,
            )
        except ProvisioningError as err:
            if err.code == _PLUGIN_NOT_LOADED:
                raise ProvisioningError(
                    "the server has no mysql_native_password plugin (MySQL 9 removed it): "
                    "set mysql-native-password=false",
                    err.code,
                ) from None
            raise

    def ensure_user(
        self,
        user: str,
        host: str,
        password: str,
        *,
        native_password: bool = False,
        reset_password: bool = False,
        max_user_connections: int | None = None,
    ) -> str:
        """Make the account exist with `password`.

        An existing account keeps its password unless `reset_password` is set or its
        authentication plugin is not the wanted one (the password is set again then).

        Args:
            user: account name.
            host: account host (`%` for any).
            password: the password for a new account (or a reset).
            native_password: on MySQL, use mysql_native_password (ignored on MariaDB).
            reset_password: set `password` on an existing account too.
            max_user_connections: per-account connection cap for a new account.

        Returns:
            "created", "updated" or "unchanged".
        """
        _check_account(user, host)
        plugin = self._plugin(user, host)
        if plugin is None:
            self._auth_statement("CREATE", user, host, password, native_password)
            if max_user_connections:
                self._run(
                    f"ALTER USER %s@%s WITH MAX_USER_CONNECTIONS {int(max_user_connections)}",
                    (user, host),
                    what=f"limiting connections of {user}@{host}",
                )
            logger.info("created user %s@%s", user, host)
            return "created"
        wanted = self._wanted_plugin(native_password)
        if reset_password or (wanted is not None and plugin != wanted):
            self._auth_statement("ALTER", user, host, password, native_password)
            logger.info("set password of user %s@%s", user, host)
            return "updated"
        return "unchanged"

    def set_password(self, user: str, host: str, password: str) -> None:
        """Change the password of an existing account, keeping its plugin.

        Raises:
            ProvisioningError: the account does not exist, or the server refused.
        """
        _check_account(user, host)
        if self._plugin(user, host) is None:
            raise ProvisioningError(f"user {user}@{host} does not exist")
        self._run(
            "ALTER USER %s@%s IDENTIFIED BY %s",
            (user, host, password),
            what=f"setting the password of {user}@{host}",
            sensitive=True,
        )
        logger.info("set password of user %s@%s", user, host)

    def set_password_all_hosts(self, user: str, password: str) -> list[str]:
        """Change the password of every account named `user` (e.g. root@localhost too).

        Returns:
            The hosts changed.
        """
        hosts = [host for name, host in self.accounts(user) if name == user]
        for host in hosts:
            self.set_password(user, host, password)
        return hosts

    def grant_database(self, user: str, host: str, database: str) -> bool:
        """Grant ALL PRIVILEGES on `database` (that database only) if not granted yet.

        Returns:
            Whether a GRANT was issued.
        """
        _check_account(user, host)
        check_database_name(database)
        pattern = grant_pattern(database)
        condition = " AND ".join(f"{col} = 'Y'" for col in _DB_PRIVILEGE_COLUMNS)
        rows = self._run(
            # Only constant column names are interpolated; values are bound parameters.
            "SELECT COUNT(*) FROM mysql.db WHERE User = %s AND Host = %s AND Db = %s"  # noqa: S608
            f" AND {condition}",
            (user, host, pattern),
            what=f"reading grants of {user}@{host}",
        )
        if rows and int(rows[0][0]) > 0:
            return False
        self._run(
            f"GRANT ALL PRIVILEGES ON {quote_identifier(pattern)}.* TO %s@%s",
            (user, host),
            what=f"granting {database} to {user}@{host}",
        )
        logger.info("granted database %s to %s@%s", database, user, host)
        return True

    def grant_global(self, user: str, host: str, privileges: Sequence[str]) -> None:
        """Grant global privileges (e.g. the exporter's PROCESS, REPLICATION CLIENT, SELECT).

        Raises:
            InvalidNameError: a privilege name is not plain words.
        """
        _check_account(user, host)
        for privilege in privileges:
            if not re.fullmatch(r"[A-Z]+( [A-Z]+)*", privilege):
                raise InvalidNameError(f"not a privilege name: {privilege!r}")
        self._run(
            f"GRANT {', '.join(privileges)} ON *.* TO %s@%s",
            (user, host),
            what=f"granting {', '.join(privileges)} to {user}@{host}",
        )

    def ensure_exporter_user(
        self, user: str, host: str, password: str, *, reset_password: bool = False
    ) -> str:
        """The exporter's account: global PROCESS, REPLICATION CLIENT, SELECT; 3 connections.

        Returns:
            What `ensure_user` did.
        """
        result = self.ensure_user(
            user, host, password, reset_password=reset_password, max_user_connections=3
        )
        rows = self._run(
            "SELECT COUNT(*) FROM mysql.user WHERE User = %s AND Host = %s"
            " AND Process_priv = 'Y' AND Repl_client_priv = 'Y' AND Select_priv = 'Y'",
            (user, host),
            what=f"reading privileges of {user}@{host}",
        )
        if not rows or int(rows[0][0]) == 0:
            self.grant_global(user, host, EXPORTER_PRIVILEGES)
        return result

    def drop_user(self, user: str, host: str) -> bool:
        """Drop an account and end its open sessions. The data it wrote stays.

        Returns:
            Whether the account existed.
        """
        _check_account(user, host)
        if self._plugin(user, host) is None:
            return False
        self._run("DROP USER IF EXISTS %s@%s", (user, host), what=f"dropping {user}@{host}")
        sessions = self._run(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = %s",
            (user,),
            what=f"listing sessions of {user}",
        )
        for (session_id,) in sessions:
            try:
                self._run(f"KILL {int(session_id)}", what=f"ending session {int(session_id)}")
            except ProvisioningError as err:  # the session ended meanwhile (unknown thread)
                logger.debug("session %s of %s already gone: %s", session_id, user, err)
        logger.info("dropped user %s@%s", user, host)
        return True
