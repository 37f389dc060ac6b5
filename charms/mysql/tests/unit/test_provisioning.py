"""The ops-free SQL layer without a server: flavour detection, names, error translation."""

from __future__ import annotations

import provisioning
import pymysql
import pytest
from provisioning import Flavour


@pytest.mark.parametrize(
    ("version", "comment", "flavour", "numbers"),
    [
        ("8.4.8", "MySQL Community Server - GPL", Flavour.MYSQL, (8, 4, 8)),
        ("8.0.36-28", "Percona Server (GPL)", Flavour.MYSQL, (8, 0, 36)),
        ("10.11.6-MariaDB-0+deb12u1", "Debian 12", Flavour.MARIADB, (10, 11, 6)),
        ("11.4.8-MariaDB-ubu2404", "mariadb.org binary distribution", Flavour.MARIADB, (11, 4, 8)),
        ("5.5.5-10.6.12", "MariaDB Server", Flavour.MARIADB, (5, 5, 5)),
        ("9", "", Flavour.MYSQL, (9, 0, 0)),
    ],
)
def test_detect_server(version, comment, flavour, numbers):
    info = provisioning.detect_server(version, comment)
    assert info.flavour is flavour
    assert info.version == version
    assert info.version_tuple == numbers


@pytest.mark.parametrize("name", ["katib", "mlpipeline", "kf-db$1", "A_b", "x" * 64])
def test_valid_database_names(name):
    assert provisioning.check_database_name(name) == name


@pytest.mark.parametrize("name", ["", "x" * 65, "a b", "a`b", "a'b", "a;b", "SYS", "mysql", "a/b"])
def test_invalid_database_names(name):
    with pytest.raises(provisioning.InvalidNameError):
        provisioning.check_database_name(name)


def test_grant_pattern_escapes_wildcards():
    assert provisioning.grant_pattern("ml_pipe%x") == "ml\\_pipe\\%x"
    assert provisioning.quote_identifier("a`b") == "`a``b`"


@pytest.mark.parametrize(
    ("error", "cls", "transient"),
    [
        (
            pymysql.err.OperationalError(1045, "Access denied"),
            provisioning.AccessDeniedError,
            False,
        ),
        (
            pymysql.err.OperationalError(2003, "Can't connect"),
            provisioning.ServerUnavailableError,
            True,
        ),
        (
            pymysql.err.OperationalError(1040, "Too many connections"),
            provisioning.ServerUnavailableError,
            True,
        ),
        (pymysql.err.InterfaceError(0, ""), provisioning.ServerUnavailableError, True),
        (
            pymysql.err.ProgrammingError(1064, "syntax near 'pw'"),
            provisioning.ProvisioningError,
            False,
        ),
    ],
)
def test_error_translation(error, cls, transient):
    err = provisioning._translate(error, "doing it", sensitive=False)
    assert type(err) is cls
    assert err.transient is transient


def test_sensitive_errors_keep_only_the_code():
    err = provisioning._translate(
        pymysql.err.ProgrammingError(1064, "near 'Sekr1t'"), "setting", sensitive=True
    )
    assert str(err) == "setting failed (error 1064)"
    assert err.code == 1064


def test_unknown_account_names_are_rejected():
    for user, host in (("a b", "%"), ("x" * 33, "%"), ("ok", "bad host"), ("o'k", "%")):
        with pytest.raises(provisioning.InvalidNameError):
            provisioning._check_account(user, host)
