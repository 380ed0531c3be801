"""The verify_artifact use case over in-memory adapters: decisions, records, events."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from portico.events.v1 import events_pb2
from portico_common.clock import ManualClock
from portico_common.npm import InvalidPackageNameError, InvalidVersionError
from portico_common.tenants import InvalidTenantIdError
from portico_security.testing.artifacts import Publisher, SignedArtifact, npm_tarball
from portico_security.verification.adapters.memory import VerificationMemoryStore
from portico_security.verification.app.commands import VerifyArtifact
from portico_security.verification.app.ports import VerificationUowFactory
from portico_security.verification.app.verify import verify_artifact
from portico_security.verification.domain.decisions import Verification
from portico_security.verification.domain.integrity import compute_sri
from portico_security.verification.domain.signatures import PublisherKey
from portico_security.verification.domain.verification import ALWAYS_RUN, CheckName, Verdict
from portico_security.verification.errors import InvalidRequestError

PLUGIN = "@acme/plugin-cost-insights"
MAX = 1024 * 1024

pytestmark = pytest.mark.usefixtures("registered")


def command(artifact: SignedArtifact, tenant_id: str = "acme") -> VerifyArtifact:
    return VerifyArtifact(
        tenant_id=tenant_id,
        plugin=artifact.plugin,
        version=artifact.version,
        tarball=artifact.tarball,
        integrity=artifact.integrity,
        signature=artifact.signature,
        key_id=artifact.key_id,
    )


def flip_byte(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def failed(verification: Verification) -> dict[str, str]:
    return {c.name: c.detail for c in verification.report.checks if not c.passed}


def only_event(store: VerificationMemoryStore) -> tuple[object, str]:
    assert len(store.sink.events) == 1, store.sink.events
    return store.sink.events[0]


async def test_good_artifact_is_verified_recorded_and_announced(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    clock: ManualClock,
    publisher: Publisher,
) -> None:
    """A tarball matching its integrity, signed by the registered key, is VERIFIED, stored
    and announced as plugin.artifact.verified with the publisher and the decision's id."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    verification = await verify_artifact(uow, command(artifact), max_size=MAX)

    assert verification.verdict is Verdict.VERIFIED
    assert [c.name for c in verification.report.checks] == list(ALWAYS_RUN)
    assert all(c.passed for c in verification.report.checks)
    assert uuid.UUID(verification.verification_id).version == 4
    assert verification.created_at == clock.now()
    assert store.state.verifications == {verification.verification_id: verification}
    event, subject = only_event(store)
    assert event == events_pb2.ArtifactVerified(
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        integrity=artifact.integrity,
        publisher="acme",
        key_id="acme-2026",
        verification_id=verification.verification_id,
    )
    assert subject == f"{PLUGIN}@2.3.0"


async def test_tampered_tarball_is_rejected_for_its_integrity(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Bytes that differ from the signed integrity fail only the integrity check, naming
    the digest actually received; the rejection is stored and announced with that reason."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    other = npm_tarball(PLUGIN, "2.3.0", {"index.js": "steal(process.env);\n"})
    # Same length as the original, so the size check cannot be what catches it.
    tampered = (other + bytes(len(artifact.tarball)))[: len(artifact.tarball)]
    verification = await verify_artifact(
        uow, command(replace(artifact, tarball=tampered)), max_size=MAX
    )

    assert verification.verdict is Verdict.REJECTED
    assert failed(verification) == {
        CheckName.INTEGRITY: (
            f"the tarball hashes to {compute_sri(tampered)}, not the claimed {artifact.integrity}"
        )
    }
    event, _ = only_event(store)
    assert event == events_pb2.ArtifactRejected(
        tenant_id="acme",
        plugin=PLUGIN,
        version="2.3.0",
        reasons=list(verification.report.reasons),
        verification_id=verification.verification_id,
    )
    assert store.state.verifications == {verification.verification_id: verification}


async def test_signature_by_another_key_is_rejected(
    uow: VerificationUowFactory, store: VerificationMemoryStore
) -> None:
    """A signature made with a key other than the registered one under the claimed key id
    fails the signature check, and only that check."""
    impostor = Publisher(name="acme", key_id="acme-2026")
    verification = await verify_artifact(
        uow, command(impostor.publish(PLUGIN, "2.3.0")), max_size=MAX
    )

    assert verification.verdict is Verdict.REJECTED
    assert failed(verification) == {
        CheckName.SIGNATURE: (
            f"the signature over '{PLUGIN}@2.3.0:{impostor.publish(PLUGIN, '2.3.0').integrity}'"
            " does not verify under key 'acme-2026'"
        )
    }
    assert isinstance(only_event(store)[0], events_pb2.ArtifactRejected)


async def test_unknown_key_id_is_rejected(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """A key id the tenant never registered fails the key check, and the signature is
    reported as unverifiable rather than as bad."""
    artifact = replace(publisher.publish(PLUGIN, "2.3.0"), key_id="acme-2099")
    verification = await verify_artifact(uow, command(artifact), max_size=MAX)

    assert failed(verification) == {
        CheckName.PUBLISHER_KEY: "no publisher key 'acme-2099' is registered for tenant 'acme'",
        CheckName.SIGNATURE: "not verified: there is no usable publisher key",
    }
    event, _ = only_event(store)
    assert isinstance(event, events_pb2.ArtifactRejected)
    assert list(event.reasons) == list(failed(verification).values())


@pytest.mark.parametrize(
    ("signed_plugin", "signed_version"),
    [(PLUGIN, "2.3.1"), ("@acme/plugin-other", "2.3.0")],
    ids=["other-version", "other-plugin"],
)
async def test_signature_over_other_content_is_rejected(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    publisher: Publisher,
    signed_plugin: str,
    signed_version: str,
) -> None:
    """A genuine signature by the registered key over another name or version does not
    vouch for this one: replaying it fails the signature check."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    replayed = replace(
        artifact, signature=publisher.sign(signed_plugin, signed_version, artifact.integrity)
    )
    verification = await verify_artifact(uow, command(replayed), max_size=MAX)

    assert list(failed(verification)) == [CheckName.SIGNATURE]
    assert isinstance(only_event(store)[0], events_pb2.ArtifactRejected)


async def test_tenant_cannot_use_another_tenants_key(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Globex naming acme's key id is judged as if the key did not exist: keys are per tenant."""
    verification = await verify_artifact(
        uow, command(publisher.publish(PLUGIN, "2.3.0"), tenant_id="globex"), max_size=MAX
    )

    assert failed(verification)[CheckName.PUBLISHER_KEY] == (
        "no publisher key 'acme-2026' is registered for tenant 'globex'"
    )
    event, _ = only_event(store)
    assert isinstance(event, events_pb2.ArtifactRejected)
    assert event.tenant_id == "globex"


async def test_unsigned_artifact_is_a_recorded_rejection(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """No signature and no key id is a decision (REJECTED, stored, announced), not an error."""
    artifact = replace(publisher.publish(PLUGIN, "2.3.0"), signature=b"", key_id="")
    verification = await verify_artifact(uow, command(artifact), max_size=MAX)

    assert verification.verdict is Verdict.REJECTED
    assert set(failed(verification)) == {CheckName.PUBLISHER_KEY, CheckName.SIGNATURE}
    assert verification.key_id == ""
    assert len(store.state.verifications) == 1
    assert isinstance(only_event(store)[0], events_pb2.ArtifactRejected)


async def test_tarball_over_the_limit_is_rejected(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """The configured max size is enforced as a failed size check naming both numbers."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    limit = len(artifact.tarball) - 1
    verification = await verify_artifact(uow, command(artifact), max_size=limit)

    assert failed(verification) == {
        CheckName.SIZE: f"the tarball is {len(artifact.tarball)} bytes, over the {limit}-byte limit"
    }


@pytest.mark.parametrize("chunk_size", [1, 7, 64 * 1024])
async def test_verdict_does_not_depend_on_chunk_size(
    uow: VerificationUowFactory, publisher: Publisher, chunk_size: int
) -> None:
    """Streaming the tarball in slices of any size hashes exactly the bytes sent."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    good = await verify_artifact(uow, command(artifact), max_size=MAX, chunk_size=chunk_size)
    bad = await verify_artifact(
        uow,
        command(replace(artifact, tarball=flip_byte(artifact.tarball, len(artifact.tarball) // 2))),
        max_size=MAX,
        chunk_size=chunk_size,
    )

    assert good.verdict is Verdict.VERIFIED
    assert list(failed(bad)) == [CheckName.INTEGRITY]


async def test_hashing_yields_to_other_tasks(
    uow: VerificationUowFactory, publisher: Publisher
) -> None:
    """While a multi-chunk tarball is hashed, other coroutines on the loop keep running."""
    artifact = publisher.publish(PLUGIN, "2.3.0", npm_tarball(PLUGIN, "2.3.0"))
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await verify_artifact(uow, command(artifact), max_size=MAX, chunk_size=16)
    stop.set()
    await task

    chunks = -(-len(artifact.tarball) // 16)
    assert ticks - before >= chunks - 1


async def test_every_decision_is_stored_separately(
    uow: VerificationUowFactory, store: VerificationMemoryStore, publisher: Publisher
) -> None:
    """Verifying the same artifact twice records two decisions with two ids and two events."""
    artifact = publisher.publish(PLUGIN, "2.3.0")
    first = await verify_artifact(uow, command(artifact), max_size=MAX)
    second = await verify_artifact(uow, command(artifact), max_size=MAX)

    assert first.verification_id != second.verification_id
    assert set(store.state.verifications) == {first.verification_id, second.verification_id}
    assert len(store.sink.of_type(events_pb2.ArtifactVerified)) == 2


MALFORMED = {
    "empty-plugin": ({"plugin": ""}, "plugin"),
    "blank-plugin": ({"plugin": "   "}, "plugin"),
    "empty-version": ({"version": ""}, "version"),
    "no-tarball": ({"tarball": b""}, "tarball"),
    "no-tenant": ({"tenant_id": ""}, "tenant_id"),
    "all-tenants-marker": ({"tenant_id": "*"}, "tenant_id"),
    "uppercase-tenant": ({"tenant_id": "Acme"}, "tenant_id"),
    "nul-in-plugin": ({"plugin": "@acme/x\x00"}, "plugin"),
    "huge-integrity": ({"integrity": "sha512-" + "A" * 2000}, "integrity"),
    "huge-key-id": ({"key_id": "k" * 1025}, "key_id"),
}


@pytest.mark.parametrize("case", MALFORMED.values(), ids=MALFORMED.keys())
async def test_malformed_request_is_refused_and_changes_nothing(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    publisher: Publisher,
    registered: PublisherKey,
    case: tuple[dict[str, object], str],
) -> None:
    """A request that does not say what to verify, or could not be recorded faithfully, is an
    InvalidRequestError naming the field; no decision is stored and no event emitted."""
    change, field = case
    bad = replace(command(publisher.publish(PLUGIN, "2.3.0")), **change)  # type: ignore[arg-type]
    with pytest.raises((InvalidRequestError, InvalidTenantIdError)) as raised:
        await verify_artifact(uow, bad, max_size=MAX)

    assert raised.value.field == field
    assert raised.value.code == "INVALID_ARGUMENT"
    assert store.state.verifications == {}
    assert store.sink.events == []
    assert store.state.keys == {("acme", "acme-2026"): registered}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"version": "1.0.0.0.0-"}, "version"),
        ({"version": "^2.3.0"}, "version"),
        ({"version": "v2.3.0"}, "version"),
        ({"plugin": "@Acme/Plugin"}, "plugin"),
        ({"plugin": "node_modules"}, "plugin"),
    ],
)
async def test_a_name_or_version_npm_could_not_publish_is_refused(
    uow: VerificationUowFactory,
    store: VerificationMemoryStore,
    publisher: Publisher,
    change: dict[str, str],
    field: str,
) -> None:
    """The kernel's npm rule refuses it as INVALID_ARGUMENT naming the field; nothing is stored."""
    bad = replace(command(publisher.publish(PLUGIN, "2.3.0")), **change)
    with pytest.raises((InvalidPackageNameError, InvalidVersionError)) as raised:
        await verify_artifact(uow, bad, max_size=MAX)

    assert raised.value.field == field
    assert raised.value.code == "INVALID_ARGUMENT"
    assert store.state.verifications == {}
    assert store.sink.events == []
