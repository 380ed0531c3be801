"""One error hierarchy: every service error is a kernel category, and nobody restates `code`."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from portico_common import errors

SERVICES = ("auth", "compat", "rollout", "security", "slo", "tenancy")


def _service_errors() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for service in SERVICES:
        package = importlib.import_module(f"portico_{service}")
        modules = [package.__name__]
        modules += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
        for name in modules:
            if name.endswith("__main__"):
                continue
            module = importlib.import_module(name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__.startswith(package.__name__):
                    found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return [found[key] for key in sorted(found)]


# Exceptions that never leave the module that raises them: control flow, caught
# and turned into a verdict or a PorticoError before any caller sees them.
INTERNAL_SIGNALS = {
    "portico_compat.adapters.catalog_npm._Transient": "retried by tenacity, then CatalogError",
    "portico_compat.domain.solver.provider.DeadlineExceeded": "becomes SolverBudgetExceededError",
    "portico_security.verification.app.provenance._NotPassedError": "becomes a failed check",
    "portico_security.verification.domain.provenance.InvalidStatementError": (
        "caught as ValueError in verification.app.provenance and reported as a rejection"
    ),
    "portico_rollout.domain.judge.mannwhitney.AllTiedError": (
        "caught as ValueError in domain.judge.judge: the metric is labelled Error, as in Kayenta"
    ),
}

ALL_ERRORS = _service_errors()
ERRORS = [c for c in ALL_ERRORS if f"{c.__module__}.{c.__qualname__}" not in INTERNAL_SIGNALS]


def _is_base(cls: type[BaseException]) -> bool:
    """A service's (or context's) base error: directly under PorticoError, and extended."""
    return errors.PorticoError in cls.__bases__ and bool(cls.__subclasses__())


def test_the_walk_finds_the_errors_of_every_service() -> None:
    """The test cannot pass by finding nothing, and the exemptions name real classes."""
    modules = {cls.__module__.split(".")[0] for cls in ERRORS}
    assert modules == {f"portico_{s}" for s in SERVICES}
    found = {f"{c.__module__}.{c.__qualname__}" for c in ALL_ERRORS}
    assert set(INTERNAL_SIGNALS) <= found


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_every_service_error_is_a_portico_error(cls: type[BaseException]) -> None:
    """Errors raised on purpose extend PorticoError, so the interceptor can map them."""
    assert issubclass(cls, errors.PorticoError)


@pytest.mark.parametrize("cls", ERRORS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_no_service_error_restates_code(cls: type[BaseException]) -> None:
    """The status comes from the kernel category; a service never writes `code` itself."""
    assert "code" not in vars(cls)


@pytest.mark.parametrize(
    "cls", [c for c in ERRORS if not _is_base(c)], ids=lambda c: f"{c.__module__}.{c.__qualname__}"
)
def test_every_concrete_error_has_exactly_one_category(cls: type[BaseException]) -> None:
    """A concrete error extends exactly one kernel category (so its status is unambiguous)."""
    categories = [c.__name__ for c in errors.CATEGORIES if issubclass(cls, c)]
    assert len(categories) == 1, f"{cls.__qualname__} has categories {categories}"
