"""Loading migration files: names, order and schema names, without a database."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import asyncpg
import pytest

from portico_common.errors import MigrationError
from portico_common.migrate import load_migrations, migrate


def test_kernel_migrations_are_keyed_and_ordered() -> None:
    """The kernel's own files load in order, keyed kernel/NNNN_name.sql."""
    keys = [m.key for m in load_migrations("portico_common.migrations", "kernel")]
    assert keys[0] == "kernel/0001_kernel.sql"
    assert keys == sorted(keys)


def test_files_load_in_numeric_order(make_package: Callable[[dict[str, str]], str]) -> None:
    """0002 runs after 0001 and before 0010, whatever order the directory lists them in."""
    package = make_package(
        {"0010_c.sql": "SELECT 3", "0001_a.sql": "SELECT 1", "0002_b.sql": "SELECT 2"}
    )
    loaded = load_migrations(package, "service")
    assert [m.key for m in loaded] == [
        "service/0001_a.sql",
        "service/0002_b.sql",
        "service/0010_c.sql",
    ]
    assert [m.sql for m in loaded] == ["SELECT 1", "SELECT 2", "SELECT 3"]


def test_non_sql_files_are_ignored(make_package: Callable[[dict[str, str]], str]) -> None:
    """README files and the package's __init__ are not migrations."""
    package = make_package({"README.md": "notes", "0001_a.sql": "SELECT 1"})
    assert [m.key for m in load_migrations(package, "service")] == ["service/0001_a.sql"]


@pytest.mark.parametrize("bad", ["1_a.sql", "0001-a.sql", "0001_Tenants.sql", "create.sql"])
def test_badly_named_file_is_refused(
    make_package: Callable[[dict[str, str]], str], bad: str
) -> None:
    """A file that is not NNNN_name.sql stops loading, naming the file."""
    package = make_package({bad: "SELECT 1"})
    with pytest.raises(MigrationError, match=f"{package}/{bad} is not named NNNN_name.sql"):
        load_migrations(package, "service")


def test_checksum_follows_the_content(make_package: Callable[[dict[str, str]], str]) -> None:
    """Any edit to a file's text changes its checksum; the same text keeps it."""
    first = load_migrations(make_package({"0001_a.sql": "SELECT 1"}), "s")[0]
    same = load_migrations(make_package({"0001_a.sql": "SELECT 1"}), "s")[0]
    edited = load_migrations(make_package({"0001_a.sql": "SELECT 1 "}), "s")[0]
    assert first.checksum == same.checksum
    assert first.checksum != edited.checksum


@pytest.mark.parametrize(
    "schema", ["", "Tenancy", "1tenancy", "ten-ancy", "x; DROP TABLE y", "a" * 64]
)
async def test_invalid_schema_name_is_refused(schema: str) -> None:
    """A schema name that is not a plain lowercase identifier is refused before any SQL runs."""
    with pytest.raises(MigrationError, match="invalid schema name"):
        await migrate(cast("asyncpg.Connection", None), schema, None)
