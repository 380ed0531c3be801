"""The resources dimension: requested CPU, memory and storage against quota minus usage."""

from __future__ import annotations

from typing import Any

import pytest

from portico_compat.domain.compatibility import Dimension
from portico_compat.domain.report import ReportDimension, Verdict
from portico_compat.domain.resources import (
    Quota,
    Resource,
    ResourceFinding,
    Resources,
    TenantResources,
    Usage,
    check_resources,
    resources_report,
)
from portico_compat.errors import InvalidPluginError

QUOTA = Quota(Resources(cpu_millicores=4000, memory_mib=8192, storage_mib=10240), max_plugins=5)
USAGE = Usage(Resources(cpu_millicores=2500, memory_mib=2048, storage_mib=10000), plugins=2)


def by_name(findings: tuple[ResourceFinding, ...]) -> dict[str, ResourceFinding]:
    return {f.name: f for f in findings}


def test_a_request_within_what_is_left_is_compatible_with_evidence_per_resource() -> None:
    """Each resource fits: one satisfied finding each, with requested, available, quota, used."""
    check = check_resources(Resources(1500, 1024, 240), QUOTA, USAGE)
    assert check.compatible
    evidence = [(f.name, f.requested, f.available, f.quota, f.used) for f in check.findings]
    assert evidence == [
        ("cpu", 1500, 1500, 4000, 2500),
        ("memory", 1024, 6144, 8192, 2048),
        ("storage", 240, 240, 10240, 10000),
        ("plugins", 1, 3, 5, 2),
    ]
    assert check.reasons == ()


def test_a_request_over_what_is_left_fails_on_that_resource_only() -> None:
    """CPU above quota minus usage is unsatisfied, and its reason gives the figures."""
    check = check_resources(Resources(1501, 10, 10), QUOTA, USAGE)
    assert not check.compatible
    cpu = by_name(check.findings)["cpu"]
    assert not cpu.satisfied
    assert cpu.reason == (
        "1501 millicores requested exceeds the 1500 available (quota 4000, used 2500)"
    )
    assert (cpu.required, cpu.host) == (
        "1501 millicores",
        "1500 of 4000 millicores available (2500 used)",
    )
    assert [f.name for f in check.findings if not f.satisfied] == ["cpu"]
    assert check.reasons == (f"cpu: {cpu.reason}",)


def test_an_install_needs_a_free_plugin_slot() -> None:
    """With every plugin slot taken, an install fails on `plugins` even with resources to spare."""
    full = Usage(Resources(), plugins=5)
    plugins = by_name(check_resources(Resources(), QUOTA, full).findings)["plugins"]
    assert (plugins.satisfied, plugins.requested, plugins.available) == (False, 1, 0)


def test_an_upgrade_frees_what_the_installed_version_holds_and_keeps_its_slot() -> None:
    """Replacing a version counts its resources as free and takes no new plugin slot."""
    full = Usage(QUOTA.limits, plugins=5)
    installed = Resources(cpu_millicores=1000, memory_mib=512, storage_mib=100)
    check = check_resources(Resources(1000, 512, 100), QUOTA, full, replacing=installed)
    assert check.compatible
    cpu = by_name(check.findings)["cpu"]
    assert (cpu.available, cpu.used) == (1000, 4000)
    assert cpu.reason.endswith("(quota 4000, used 4000, 1000 freed by the upgrade)")
    assert by_name(check.findings)["plugins"].requested == 0
    assert not check_resources(Resources(1001, 0, 0), QUOTA, full, replacing=installed).compatible


def test_an_upgrade_never_frees_more_than_is_used() -> None:
    """A stale `replacing` larger than the usage cannot lift available above the quota."""
    usage = Usage(Resources(cpu_millicores=100), plugins=1)
    check = check_resources(
        Resources(4001, 0, 0), QUOTA, usage, replacing=Resources(cpu_millicores=900)
    )
    assert by_name(check.findings)["cpu"].available == 4000
    assert not check.compatible


def test_a_tenant_over_quota_has_nothing_available_and_says_so() -> None:
    """Usage above a lowered quota leaves 0 available, and the reason says by how much."""
    over = Usage(Resources(cpu_millicores=4500), plugins=1)
    cpu = by_name(check_resources(Resources(1, 0, 0), QUOTA, over).findings)["cpu"]
    assert (cpu.satisfied, cpu.available) == (False, 0)
    assert cpu.reason.endswith("the tenant is already 500 millicores over its quota")


def test_a_plugin_requesting_nothing_fits_a_tenant_with_room() -> None:
    """Zero requested is compatible as long as a plugin slot is free."""
    assert check_resources(Resources(), QUOTA, USAGE).compatible


def test_an_unknown_quota_fails_safe_with_a_clear_reason() -> None:
    """Without a quota every finding is unsatisfied and names the RPC that would fix it."""
    check = check_resources(Resources(100, 100, 100), None, USAGE)
    assert not check.compatible
    assert [f.name for f in check.findings] == ["cpu", "memory", "storage", "plugins"]
    for finding in check.findings:
        assert not finding.satisfied
        assert (finding.available, finding.quota, finding.used) == (None, None, None)
        assert finding.host == "unknown"
        assert finding.reason.startswith("tenant quota unknown: tenancy has published none")
        assert finding.reason.endswith("(set it with SetQuota)")
    assert by_name(check.findings)["cpu"].requested == 100


def test_unknown_usage_is_not_taken_as_zero() -> None:
    """A quota without a usage report still fails: zero usage is never assumed."""
    check = check_resources(Resources(), QUOTA, None)
    assert not check.compatible
    assert all("usage unknown" in f.reason and "RecordUsage" in f.reason for f in check.findings)
    both = check_resources(Resources(), None, None).findings[0].reason
    assert both.startswith("tenant quota and usage unknown")


@pytest.mark.parametrize(
    ("amounts", "problem"),
    [
        ({"cpu_millicores": -1}, "cpu_millicores must be between 0"),
        ({"memory_mib": 10**13}, "memory_mib must be between 0"),
        ({"storage_mib": True}, "storage_mib must be an integer"),
        ({"storage_mib": "10"}, "storage_mib must be an integer"),
    ],
)
def test_bad_requested_figures_are_an_invalid_plugin(amounts: dict[str, Any], problem: str) -> None:
    """Negative, absurd or non-integer requests raise InvalidPluginError, not a verdict."""
    with pytest.raises(InvalidPluginError, match=problem):
        Resources(**amounts)


def test_every_resource_has_a_unit() -> None:
    """Findings render their amounts with the resource's unit."""
    assert [r.unit for r in Resource] == ["millicores", "MiB", "MiB", "plugins"]


def test_the_report_dimension_carries_the_findings_with_their_evidence() -> None:
    """resources_report fails the dimension on CPU and renders evidence in the generic fields."""
    known = TenantResources(QUOTA, USAGE)
    report = resources_report(Resources(2000, 0, 0), known)
    assert (report.dimension, report.verdict) == (ReportDimension.RESOURCES, Verdict.FAIL)
    assert report.summary == "4 checked: 1 fail, 3 pass"
    cpu = report.findings[0]
    assert (cpu.dimension, cpu.name, cpu.satisfied) == (Dimension.RESOURCES, "cpu", False)
    assert (cpu.required_range, cpu.host_version) == (
        "2000 millicores",
        "1500 of 4000 millicores available (2500 used)",
    )
    assert resources_report(Resources(), known).verdict is Verdict.PASS


def test_a_plugin_declaring_no_resources_passes_the_dimension_without_findings() -> None:
    """requested=None passes with "no resources declared", even with nothing projected."""
    report = resources_report(None, TenantResources())
    assert (report.verdict, report.summary, report.findings) == (
        Verdict.PASS,
        "no resources declared",
        (),
    )
    assert resources_report(Resources(), TenantResources()).verdict is Verdict.FAIL
