"""No service's tests import another service or the gateway.

import-linter checks the installed packages only; tests are not packages,
so this reads every test module under services/<svc>/tests with `ast`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"


def deployables() -> dict[str, str]:
    """Directory name -> top-level package, for every service and the gateway."""
    return {
        path.name: f"portico_{path.name}"
        for path in sorted(SERVICES.iterdir())
        if (path / "src" / f"portico_{path.name}").is_dir()
    }


def imported_modules(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, module) for every absolute import in `source`, nested ones included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def foreign_imports(service: str, packages: dict[str, str]) -> list[str]:
    """`file:line imports module` for each import of another deployable by `service`'s tests."""
    others = {package for name, package in packages.items() if name != service}
    problems = []
    for path in sorted((SERVICES / service / "tests").rglob("*.py")):
        for line, module in imported_modules(path.read_text(), str(path)):
            if module.split(".")[0] in others:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return problems


def test_every_service_has_tests_to_check() -> None:
    """The scan sees the six services and the gateway, each with a tests directory."""
    packages = deployables()
    assert set(packages) >= {"auth", "compat", "gateway", "rollout", "security", "slo", "tenancy"}
    assert all((SERVICES / name / "tests").is_dir() for name in packages)


def test_no_service_test_imports_another_service_or_the_gateway() -> None:
    """Each offending import is named with its file and line."""
    packages = deployables()
    problems = [problem for service in packages for problem in foreign_imports(service, packages)]
    assert problems == [], "service tests importing another deployable:\n" + "\n".join(problems)


def test_the_scan_finds_nested_and_from_imports(tmp_path: Path) -> None:
    """Imports inside functions and `from x.y import z` are both found; relative ones are not."""
    source = (
        "import portico_slo.app as a\n"
        "def f():\n"
        "    from portico_gateway.routes import build_route_table\n"
        "from . import helpers\n"
    )
    found = imported_modules(source, str(tmp_path / "t.py"))
    assert found == [(1, "portico_slo.app"), (3, "portico_gateway.routes")]
