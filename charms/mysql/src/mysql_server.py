"""Ops-free logic of the mysql charm: config model, Pebble layers, files and names.

Nothing here talks to Juju, Pebble or the database: the charm feeds it values and applies
what it returns. The SQL lives in `provisioning`.

The same layers serve the official `mysql` 8.x and `mariadb` 10.11+/11.x images: both ship
`/usr/local/bin/docker-entrypoint.sh`, which initialises an empty data directory (root
password from a file, root allowed from 127.0.0.1 only), drops to the `mysql` user (uid 999
in both) and execs the server, and both accept every server option used here.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
import string
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from kfcharm.resources import ContainerResources, ResourceConfigError
from lightkube.utils.quantity import parse_quantity

MYSQL_CONTAINER = "mysql"
EXPORTER_CONTAINER = "mysqld-exporter"
MYSQL_SERVICE = "mysql"
EXPORTER_SERVICE = "mysqld-exporter"
MYSQL_PORT = 3306
EXPORTER_PORT = 9104

STORAGE_ROOT = "/var/lib/mysql"
"""Where the `database` storage is mounted."""
DATA_DIR = f"{STORAGE_ROOT}/data"
"""The data directory: a sub-directory, since a fresh volume may hold `lost+found`."""
BACKUP_DIR = f"{STORAGE_ROOT}/backups"
ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"
MYSQL_UID = 999
"""The `mysql` user of both official images."""

CHARM_CONF_DIR = "/etc/mysql-charm"
ROOT_PASSWORD_FILE = f"{CHARM_CONF_DIR}/root-password"
"""Read by the entrypoint (MYSQL_ROOT_PASSWORD_FILE) only when it initialises the datadir."""
CLIENT_DEFAULTS_FILE = f"{CHARM_CONF_DIR}/client.cnf"
"""Client credentials for one backup/restore run; removed right after it."""
EXPORTER_CNF = "/etc/mysqld-exporter/my.cnf"
EXPORTER_UID = 65534
"""`nobody`, the user of the mysqld-exporter image."""

ROOT_USER = "root"
EXPORTER_USER = "exporter"
LOCAL_HOST = "127.0.0.1"
"""Host part of the system users: only processes of this pod (charm, exporter) reach them."""

SYSTEM_SECRET_LABEL = "system-users"  # noqa: S105 - a secret label, not a secret
"""Label of the app secret holding `root-password` and `exporter-password`."""
SYSTEM_USERS = (ROOT_USER, EXPORTER_USER)

MEMORY_PROFILES = ("production", "testing")
MIN_BUFFER_POOL = 8 * 2**20
MIN_MEMORY_LIMIT = 256 * 2**20
_PRODUCTION_DEFAULT_POOL = 512 * 2**20
_TESTING_POOL = 32 * 2**20

_PASSWORD_ALPHABET = string.ascii_letters + string.digits
_USER_PASSWORD = re.compile(r"[A-Za-z0-9_.~!@%^*+=,:/-]{16,128}")
_MYSQL_SIZE = re.compile(r"(\d{1,20})([KMGkmg]?)", re.ASCII)
MAX_BUFFER_POOL = 2**64 - 1  # innodb_buffer_pool_size maximum on 64-bit servers
BACKUP_ID = re.compile(r"backup-\d{8}T\d{6}Z(-[A-Za-z0-9_-]{1,32})?")
BACKUP_LABEL = re.compile(r"[A-Za-z0-9_-]{1,32}")
_RELATION_USER = re.compile(r"relation-(\d+)")
SYSTEM_DATABASES = frozenset({"mysql", "information_schema", "performance_schema", "sys"})


class ConfigError(ValueError):
    """A config option has an invalid value.

    Attributes:
        option: the option's name, as `juju config` spells it.
        reason: what is wrong with it.
    """

    def __init__(self, option: str, reason: str):
        self.option = option
        self.reason = reason
        super().__init__(f"{option}: {reason}")


def _option(field_name: str) -> str:
    return field_name.replace("_", "-")


def parse_mysql_size(value: str) -> int:
    """Parse a MySQL size such as `256M` or `2G` (binary multiples) into bytes.

    Raises:
        ValueError: the text is not a size.
    """
    match = _MYSQL_SIZE.fullmatch(value.strip())
    if not match:
        raise ValueError("expected a size such as 256M or 2G")
    power = {"": 0, "k": 1, "m": 2, "g": 3}[match.group(2).lower()]
    return int(match.group(1)) * 1024**power


@dataclasses.dataclass(frozen=True)
class MysqlConfig:
    """The charm's config options, validated (field names are the options, `-` as `_`).

    Raises:
        ConfigError: naming the first invalid option.
    """

    memory_profile: str = "production"
    innodb_buffer_pool_size: str = ""
    max_connections: int = 151
    long_query_time: float = 2.0
    mysql_native_password: bool = True
    mysql_cpu_request: str = ""
    mysql_cpu_limit: str = ""
    mysql_memory_request: str = ""
    mysql_memory_limit: str = ""
    mysqld_exporter_cpu_request: str = ""
    mysqld_exporter_cpu_limit: str = ""
    mysqld_exporter_memory_request: str = ""
    mysqld_exporter_memory_limit: str = ""

    def __post_init__(self) -> None:
        self._check_types()
        if self.memory_profile not in MEMORY_PROFILES:
            raise ConfigError("memory-profile", f"must be one of {', '.join(MEMORY_PROFILES)}")
        if not 10 <= self.max_connections <= 10000:
            raise ConfigError("max-connections", "must be between 10 and 10000")
        if not 0.001 <= self.long_query_time <= 3600:
            raise ConfigError("long-query-time", "must be between 0.001 and 3600 seconds")
        limit = self.memory_limit_bytes  # validates every resource option first
        if limit is not None and limit < MIN_MEMORY_LIMIT:
            raise ConfigError(
                "mysql-memory-limit", "must be at least 256Mi for the server to start"
            )
        if self.innodb_buffer_pool_size.strip():
            try:
                pool = parse_mysql_size(self.innodb_buffer_pool_size)
            except ValueError as err:
                raise ConfigError("innodb-buffer-pool-size", str(err)) from None
            if pool < MIN_BUFFER_POOL:
                raise ConfigError("innodb-buffer-pool-size", "must be at least 8M")
            if pool > MAX_BUFFER_POOL:
                raise ConfigError("innodb-buffer-pool-size", "is larger than MySQL allows")
            if limit is not None and pool > 0.8 * limit:
                raise ConfigError(
                    "innodb-buffer-pool-size", "must be at most 80% of mysql-memory-limit"
                )

    def _check_types(self) -> None:
        # Juju guarantees the types of declared options; a dataclass does not check them, so
        # a wrong type (tests, a hand-made config) fails here with the option named.
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.type == "float" and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, field.name, float(value))
                continue
            expected = {"str": str, "int": int, "float": float, "bool": bool}[str(field.type)]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(_option(field.name), f"must be a {expected.__name__}")

    def resources(self) -> dict[str, ContainerResources]:
        """Requests and limits of each workload container (`<container>-cpu-request`...).

        Raises:
            ConfigError: naming the first invalid resource option.
        """
        options = {_option(f.name): getattr(self, f.name) for f in dataclasses.fields(self)}
        result = {}
        for container in (MYSQL_CONTAINER, EXPORTER_CONTAINER):
            try:
                result[container] = ContainerResources.from_config(options, container)
            except ResourceConfigError as err:
                raise ConfigError(err.option, err.reason) from None
        return result

    @property
    def memory_limit_bytes(self) -> int | None:
        """The database container's memory limit in bytes, if one is set."""
        limit = parse_quantity(self.resources()[MYSQL_CONTAINER].memory_limit or None)
        return None if limit is None else int(limit)

    @property
    def buffer_pool_bytes(self) -> int:
        """The InnoDB buffer pool size the server gets."""
        if self.innodb_buffer_pool_size.strip():
            return parse_mysql_size(self.innodb_buffer_pool_size)
        if self.memory_profile == "testing":
            return _TESTING_POOL
        limit = self.memory_limit_bytes
        if limit is not None:
            pool = int(limit * 0.6)
            return max(MIN_BUFFER_POOL, pool - pool % 2**20)
        return _PRODUCTION_DEFAULT_POOL


def server_args(config: MysqlConfig) -> list[str]:
    """Server options common to MySQL 8.4 and MariaDB 10.11+/11.x.

    `--loose-` makes a server ignore an option it does not know (MariaDB has no
    `mysql-native-password` switch: the plugin is built in there).
    """
    args = [
        f"--datadir={DATA_DIR}",
        f"--port={MYSQL_PORT}",
        "--bind-address=0.0.0.0",
        "--skip-name-resolve",
        "--skip-log-bin",
        "--character-set-server=utf8mb4",
        f"--max-connections={config.max_connections}",
        f"--innodb-buffer-pool-size={config.buffer_pool_bytes}",
        f"--long-query-time={config.long_query_time:g}",
    ]
    if config.memory_profile == "testing":
        args.append("--performance-schema=OFF")
    if config.mysql_native_password:
        args.append("--loose-mysql-native-password=ON")
    return args


def _tcp_check(level: str, port: int, *, period: str, threshold: int) -> dict[str, Any]:
    return {
        "override": "replace",
        "level": level,
        "period": period,
        "timeout": "3s",
        "threshold": threshold,
        "tcp": {"host": LOCAL_HOST, "port": port},
    }


def mysql_layer(config: MysqlConfig, log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """The Pebble layer of the database container on the unit that serves.

    The alive check tolerates five minutes without a listener: the first start initialises
    the data directory with networking off.
    """
    return {
        "summary": "MySQL-protocol database server",
        "services": {
            MYSQL_SERVICE: {
                "override": "replace",
                "summary": "database server (via the image's docker-entrypoint.sh)",
                "command": " ".join([ENTRYPOINT, *server_args(config)]),
                "startup": "enabled",
                "environment": {
                    # Read only when the entrypoint initialises an empty data directory.
                    "MYSQL_ROOT_PASSWORD_FILE": ROOT_PASSWORD_FILE,
                    "MYSQL_ROOT_HOST": LOCAL_HOST,
                },
                "on-check-failure": {"mysql-alive": "restart"},
            }
        },
        "checks": {
            "mysql-ready": _tcp_check("ready", MYSQL_PORT, period="10s", threshold=3),
            "mysql-alive": _tcp_check("alive", MYSQL_PORT, period="30s", threshold=10),
        },
        "log-targets": dict(log_targets),
    }


def standby_layer() -> dict[str, Any]:
    """The layer of an extra unit: no server, and a ready check that fails.

    Nothing listens on the port, so the check keeps the pod NotReady and the application's
    Service sends no client to a unit without data.
    """
    return {
        "summary": "standby: this unit runs no database (one unit is supported)",
        "services": {},
        "checks": {
            "mysql-ready": _tcp_check("ready", MYSQL_PORT, period="10s", threshold=3),
        },
    }


def exporter_layer(log_targets: Mapping[str, Any]) -> dict[str, Any]:
    """The Pebble layer of the mysqld-exporter container."""
    return {
        "summary": "Prometheus mysqld_exporter",
        "services": {
            EXPORTER_SERVICE: {
                "override": "replace",
                "summary": "mysqld_exporter",
                "command": (
                    f"/bin/mysqld_exporter --config.my-cnf={EXPORTER_CNF}"
                    f" --web.listen-address=:{EXPORTER_PORT}"
                ),
                "startup": "enabled",
                "user-id": EXPORTER_UID,
                "group-id": EXPORTER_UID,
                "on-check-failure": {"exporter-alive": "restart"},
            }
        },
        "checks": {
            "exporter-ready": {
                "override": "replace",
                "level": "ready",
                "period": "30s",
                "timeout": "5s",
                "threshold": 3,
                "http": {"url": f"http://{LOCAL_HOST}:{EXPORTER_PORT}/"},
            },
            "exporter-alive": _tcp_check("alive", EXPORTER_PORT, period="30s", threshold=5),
        },
        "log-targets": dict(log_targets),
    }


def client_cnf(user: str, password: str) -> str:
    """A MySQL option file with client credentials (pushed 0600, never on a command line).

    Raises:
        ValueError: the password has characters an option file cannot carry quoted.
    """
    if any(c in password for c in '"\\\n\r'):
        raise ValueError("password not representable in an option file")
    return f'[client]\nuser={user}\npassword="{password}"\nhost={LOCAL_HOST}\nport={MYSQL_PORT}\n'


def generate_password(length: int = 32) -> str:
    """A random password of letters and digits (safe in URIs, DSNs and option files)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


def check_user_password(password: str) -> str:
    """Validate a password an operator supplied to `set-password`.

    Raises:
        ValueError: with the rule it breaks (never the password).
    """
    if not _USER_PASSWORD.fullmatch(password):
        raise ValueError(
            "password must be 16-128 characters out of letters, digits and"
            " _ . ~ ! @ % ^ * + = , : / -"
        )
    return password


def relation_user(relation_id: int) -> str:
    """The SQL user of one relation."""
    return f"relation-{relation_id}"


def relation_id_of_user(user: str) -> int | None:
    """The relation id a charm-made relation user belongs to, or None for other users."""
    match = _RELATION_USER.fullmatch(user)
    return int(match.group(1)) if match else None


def cluster_domain(fqdn: str) -> str:
    """The cluster DNS domain from this pod's FQDN (`...svc.<domain>`), or `cluster.local`."""
    _, sep, domain = fqdn.partition(".svc.")
    return domain.strip(".") if sep and domain.strip(".") else "cluster.local"


def service_endpoint(app: str, model: str, fqdn: str) -> str:
    """`host:port` of the application's Kubernetes Service, which Juju names after the app."""
    return f"{app}.{model}.svc.{cluster_domain(fqdn)}:{MYSQL_PORT}"


def pod_ordinal(hostname: str, app: str) -> int | None:
    """The StatefulSet ordinal of this pod (`<app>-<n>`), or None if it does not look like one."""
    prefix = f"{app}-"
    if hostname.startswith(prefix) and hostname[len(prefix) :].isdigit():
        return int(hostname[len(prefix) :])
    return None


def backup_id(now: datetime, label: str | None = None) -> str:
    """A backup id for a dump started at `now` (UTC), with an optional label.

    Raises:
        ValueError: the label is not 1-32 letters, digits, `-` or `_`.
    """
    stamp = now.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    if label is None or label == "":
        return f"backup-{stamp}"
    if not BACKUP_LABEL.fullmatch(label):
        raise ValueError("label must be 1-32 letters, digits, '-' or '_'")
    return f"backup-{stamp}-{label}"


def backup_path(backup: str) -> str:
    """The file of a backup id on the storage volume.

    Raises:
        ValueError: not a backup id (so never a path outside the backup directory).
    """
    if not BACKUP_ID.fullmatch(backup):
        raise ValueError("not a backup id (see list-backups)")
    return f"{BACKUP_DIR}/{backup}.sql"


def dump_command(flavour: str, databases: list[str], result_file: str) -> list[str]:
    """The dump command for the server flavour; credentials come from the defaults file."""
    binary = "mariadb-dump" if flavour == "mariadb" else "mysqldump"
    return [
        binary,
        f"--defaults-extra-file={CLIENT_DEFAULTS_FILE}",
        "--protocol=tcp",
        "--single-transaction",
        "--routines",
        "--events",
        "--triggers",
        "--hex-blob",
        f"--result-file={result_file}",
        "--databases",
        *databases,
    ]


def restore_command(flavour: str, source_file: str) -> list[str]:
    """The client command that replays a dump; credentials come from the defaults file."""
    binary = "mariadb" if flavour == "mariadb" else "mysql"
    return [
        binary,
        f"--defaults-extra-file={CLIENT_DEFAULTS_FILE}",
        "--protocol=tcp",
        "--batch",
        f"--execute=source {source_file}",
    ]
