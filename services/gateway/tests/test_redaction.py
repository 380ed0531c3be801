"""What an upstream's error text may tell an HTTP client."""

from __future__ import annotations

import pytest

from portico_gateway.redaction import MASK, from_transport, has_traceback, mask, mask_all


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("db down at 10.0.3.7:5432", f"db down at {MASK}"),
        ("peer ipv4:127.0.0.1:50051 reset", f"peer {MASK} reset"),
        ("peer ipv6:[::1]:50051 reset", f"peer {MASK} reset"),
        ("listening on [::1]:50051", f"listening on {MASK}"),
        ("socket unix:/run/portico/auth.sock", f"socket {MASK}"),
        ("auth.portico.svc.cluster.local:50051 refused", f"{MASK} refused"),
        ("cannot reach auth:50051", f"cannot reach {MASK}"),
        ("cannot reach localhost:8080", f"cannot reach {MASK}"),
        ("see /var/lib/portico/x.log", f"see {MASK}"),
        ("open '/srv/app/db.py'", f"open '{MASK}'"),
    ],
)
def test_addresses_and_paths_are_masked(text: str, masked: str) -> None:
    """Targets, IPs with ports, host:port pairs and absolute paths never reach a client."""
    assert mask(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "plugin @acme/plugin-cost-insights@2.3.0 is not verified",
        "'1.0.0.0.0-' is not an exact semantic version",
        "rollout tenants/acme/rollouts/r-1 is finished",
        "expected one of [a, b] or [abc]",
        "digest sha512:abc does not match",
        "window 10:30 is in the past",
    ],
)
def test_ordinary_messages_are_left_alone(text: str) -> None:
    """Package names, versions, relative names and times are not mistaken for internals."""
    assert mask(text) == text


def test_masking_reaches_every_string_of_structured_details() -> None:
    """Error details (field violations and the like) are masked string by string."""
    details = [{"fieldViolations": [{"field": "x", "description": "at 10.0.0.1:80"}], "n": 1}]

    assert mask_all(details) == [
        {"fieldViolations": [{"field": "x", "description": f"at {MASK}"}], "n": 1}
    ]


@pytest.mark.parametrize(
    "text",
    [
        "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:1: refused",
        "DNS resolution failed for auth:50051",
        "errors resolving nosuchhost.invalid:5: Domain name not found",
        "Socket closed",
        "Connection reset by peer",
    ],
)
def test_grpcs_own_failures_are_recognised(text: str) -> None:
    """What grpc says when it never reached the server is recognised as such."""
    assert from_transport(text)


def test_a_services_own_unavailable_message_is_not_a_transport_failure() -> None:
    """A service that answers UNAVAILABLE with its own reason keeps that reason."""
    assert not from_transport("signing keys from auth are unavailable")


def test_tracebacks_are_recognised() -> None:
    """A Python traceback in a detail is recognised, by its header or a frame line."""
    assert has_traceback("Traceback (most recent call last):\n  ...")
    assert has_traceback('oops: File "/app/x.py", line 3, in f')
    assert not has_traceback("the file is missing")
