"""Tenant scale: tenant-scoped reads through the gateway with 10,000 tenants' data in every service.

Portico: two whole suites (`portico up`, each with its own PostgreSQL, NATS,
the six services and the gateway) run side by side. In each, one template
tenant is set up through the gateway as a platform admin: the tenant, its
quota, its host profile (compat), a rollout (with the SLO rollout ensures for
it), an SLO of its own, an install policy and a client of its own
(`tenant-admin`); security's install requests are written with security's own
codec (making one for real needs a signed, verified artifact). In the scale
suite every tenant-keyed row of every service's schema is then cloned, as
PostgreSQL's administrator, to BENCH_TENANTS - 1 more tenants (ids that are
unique without the tenant get a per-tenant suffix), auth's client included,
and the tables are analysed. The baseline suite keeps its one tenant.

Measured: BENCH_CLIENTS concurrent HTTP clients (aiohttp, one connection each)
cycle through six tenant-scoped reads (tenancy GetTenant and GetQuota, auth
ListClients, security GetInstallRequest, rollout ListRollouts, slo ListSlos),
each client with a token of its own tenant (in the scale suite, one tenant
per client drawn from all of them; in the baseline, the one tenant). Rounds of
BENCH_SECONDS alternate between the suites (BENCH_ROUNDS each), so the load
of the shared machine falls on both alike. Printed: p50/p99 per read and
overall for each suite, and the ratios scale/baseline.

The gateway's per-tenant rate limit and auth's token-issuance limits are
raised in both suites: the baseline's one tenant would otherwise be refused
at 50 requests a second, which is the limit working, not a read's latency.

`BENCH_TENANTS=10000 BENCH_CLIENTS=200 python -m bench tenant_scale`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import asyncpg
import httpx

from bench.stats import percentile
from portico_cli import credentials, endpoints
from portico_cli.paths import Home
from portico_common.dbsetup import role_url
from portico_security.install.adapters.codec import request_to_json
from portico_security.install.domain.requests import (
    HistoryEntry,
    InstallRequest,
    InstallStatus,
    TrustBreakdown,
    TrustFactor,
)

TENANTS = int(os.environ.get("BENCH_TENANTS", "10000"))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "200"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "15"))
# Each client's reads per second, open loop (a portal user's page loads); 0:
# closed loop, each read sent the moment the last one answered, which
# measures the suite's saturation throughput rather than a read's latency.
CLIENT_RATE = float(os.environ.get("BENCH_CLIENT_RATE", "1"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
# Each suite's block of gRPC ports (portico up takes another when one is in use).
BASE_PORTS = {"baseline": 57161, "scale": 57261}
STARTUP_SECONDS = 900.0
TEMPLATE = "bench-t00000"
CLIENT_SECRET = "bench-client-secret-0123456789"  # noqa: S105 - the bench's own clients
INSTALL_REQUESTS_PER_TENANT = 2
SERVICE_SCHEMAS = ("tenancy", "security", "compat", "rollout", "slo")
# Not cloned: the kernel's tables; tenancy's job queue rows (a queued job
# without its pgqueuer entry would be picked up as stalled) and key tables (a
# wrapped key is bound to its tenant: each clone gets its own when first used);
# slo's channels (their secrets are sealed under the template's key).
NOT_CLONED = frozenset(
    {
        "outbox",
        "inbox",
        "idempotency_keys",
        "access_denials",
        "dead_letter_actions",
        "jobs",
        "tenant_key_rings",
        "tenant_data_keys",
        "alert_channels",
    }
)


def tenant_id(index: int) -> str:
    return f"bench-t{index:05d}"


class Suite:
    """One `portico up` in its own home, with the bench's limits; stopped with SIGTERM."""

    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.home = root / name
        self.log_path = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.found: endpoints.Endpoints | None = None

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PORTICO_")}
        env |= {
            "PORTICO_UP_GRPC_BASE_PORT": str(BASE_PORTS[self.name]),
            "PORTICO_GATEWAY_TENANT_RATE_PER_SECOND": "1000000",
            "PORTICO_GATEWAY_TENANT_RATE_BURST": "1000000",
            "PORTICO_AUTH_ISSUE_CLIENT_BURST": "100000",
            "PORTICO_AUTH_ISSUE_CLIENT_PER_SECOND": "100000",
            "PORTICO_AUTH_ISSUE_SOURCE_BURST": "100000",
            "PORTICO_AUTH_ISSUE_SOURCE_PER_SECOND": "100000",
            "PORTICO_LOG_LEVEL": "WARNING",
        }
        log = self.log_path.open("wb")
        command = [sys.executable, "-m", "portico_cli", "up", "--home", str(self.home)]
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI
            [*command, "--gateway-port", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()

    async def ready(self) -> endpoints.Endpoints:
        assert self.proc is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        path = Home(self.home).endpoints
        while not path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: portico up failed; see {self.log_path}")
            await asyncio.sleep(0.5)
        self.found = endpoints.read(path)
        return self.found

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    @property
    def endpoints(self) -> endpoints.Endpoints:
        assert self.found is not None
        return self.found

    def admin_database_url(self) -> str:
        superuser = json.loads(Home(self.home).secrets.read_text())["postgres"]["superuser"]
        return role_url(self.endpoints.database, "postgres", superuser)


async def _ok(response: httpx.Response) -> dict[str, object]:
    if response.status_code != 200:
        raise RuntimeError(
            f"{response.request.method} {response.request.url}: {response.status_code}"
            f" {response.text}"
        )
    body: dict[str, object] = response.json()
    return body


async def _token(http: httpx.AsyncClient, client_id: str, secret: str, tenant: str) -> str:
    reply = await _ok(
        await http.post(
            "/v1/auth/token",
            json={
                "clientId": client_id,
                "clientSecret": secret,
                "tenantId": tenant,
                "ttlSeconds": 3600,
            },
        )
    )
    return str(reply["accessToken"])


def _install_request(index: int, now: datetime) -> InstallRequest:
    plugin, version = f"@bench/installed-{index}", "1.0.0"
    return InstallRequest(
        request_id=str(uuid.uuid4()),
        tenant_id=TEMPLATE,
        plugin=plugin,
        version=version,
        verification_id=str(uuid.uuid4()),
        publisher="bench-publisher",
        trust=TrustBreakdown(80, (TrustFactor("signature", 100, 40, ("signed by bench",)),)),
        advisories=(),
        status=InstallStatus.APPROVED,
        reasons=("trust score 80 meets the policy",),
        evidence_digest="sha256:" + "0" * 64,
        requested_by="bench-dev",
        created_at=now,
        approval=None,
        history=(
            HistoryEntry(now, "requested", "bench-dev", f"{plugin}@{version}"),
            HistoryEntry(now, "approved", "policy", "trust score 80 meets the policy"),
        ),
    )


async def set_up_template(suite: Suite) -> None:
    """The template tenant's data: through the gateway as a platform admin, and security's
    install requests with its codec."""
    found = suite.endpoints
    admin_secret = credentials.admin_client_secret(Home(suite.home).secrets)
    async with httpx.AsyncClient(base_url=found.gateway, timeout=60) as http:
        bearer = {
            "authorization": "Bearer "
            + await _token(http, found.admin_client_id, admin_secret, TEMPLATE)
        }
        t = f"/v1/tenants/{TEMPLATE}"
        calls: list[tuple[str, str, dict[str, object]]] = [
            ("POST", "/v1/tenants", {"tenantId": TEMPLATE, "displayName": "Bench tenant"}),
            (
                "PUT",
                f"{t}/quota",
                {
                    "limits": {"cpuMillicores": 64000, "memoryMib": 262144, "storageMib": 1048576},
                    "maxPlugins": 1000,
                    "maxConcurrentRollouts": 100,
                },
            ),
            (
                "PUT",
                f"{t}/host-profile",
                {
                    "backstageVersion": "1.30.0",
                    "nodeVersion": "20.11.0",
                    "packages": {"@backstage/core-plugin-api": "1.9.3"},
                },
            ),
            (
                "PUT",
                f"{t}/install-policy",
                {
                    "actor": "bench",
                    "reason": "bench",
                    "policy": {
                        "minTrustScore": 40,
                        "approvalBelowScore": 60,
                        "maxArtifactBytes": 1 << 20,
                        "approval": {
                            "required": 1,
                            "roles": ["security-approver"],
                            "timeoutSeconds": 3600,
                            "onDeadline": "DEADLINE_ACTION_EXPIRE",
                        },
                    },
                },
            ),
            (
                "POST",
                f"{t}/compatibility:check",
                {
                    "plugin": "@bench/rolled",
                    "version": "2.0.0",
                    "engines": {"node": ">=18", "backstage": "^1.20.0"},
                    "peerDependencies": {"@backstage/core-plugin-api": "^1.9.0"},
                },
            ),
            ("POST", f"{t}/rollouts", {"plugin": "@bench/rolled", "version": "2.0.0"}),
            (
                "POST",
                f"{t}/slos",
                {
                    "plugin": "@bench/watched",
                    "version": "1.0.0",
                    "objective": 0.999,
                    "windowSeconds": 2592000,
                },
            ),
            (
                "POST",
                "/v1/auth/clients",
                {
                    "clientId": TEMPLATE,
                    "clientSecret": CLIENT_SECRET,
                    "tenants": [TEMPLATE],
                    "scopes": ["*"],
                    "roles": ["tenant-admin"],
                },
            ),
        ]
        for method, path, body in calls:
            await _ok(await http.request(method, path, json=body, headers=bearer))
    conn = await asyncpg.connect(suite.admin_database_url())
    try:
        now = datetime.now(UTC)
        rows = []
        for i in range(INSTALL_REQUESTS_PER_TENANT):
            request = _install_request(i, now)
            rows.append(
                (
                    uuid.UUID(request.request_id),
                    TEMPLATE,
                    request.plugin,
                    request.version,
                    request.status.value,
                    json.dumps(request_to_json(request)),
                    now,
                    now,
                )
            )
        await conn.executemany(
            """INSERT INTO security.install_requests
                   (request_id, tenant_id, plugin, version, status, body, created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)""",
            rows,
        )
        # The quota reaches compat's and security's projections as an event.
        deadline = time.monotonic() + 60
        while not await conn.fetchval(
            "SELECT count(*) FROM compat.tenant_quotas WHERE tenant_id = $1", TEMPLATE
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("compat never received the template's quota")
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


@dataclass
class Table:
    schema: str
    name: str
    # Name, type, has a default; identity columns are left out (each copy gets its own).
    columns: list[tuple[str, str, bool]]
    # Columns of the unique indexes that leave out tenant_id: copies need their own values.
    unique_without_tenant: list[set[str]] = field(default_factory=list)
    depends_on: set[str] = field(default_factory=set)

    def renamed(self) -> set[str]:
        """The id columns a copy gives new values: text or uuid members of those indexes."""
        kinds = {name: (data_type, default) for name, data_type, default in self.columns}
        found: set[str] = set()
        for index in self.unique_without_tenant:
            ids = {c for c in index if c in kinds and kinds[c][0] in ("text", "uuid")}
            defaulted = {c for c in index if c in kinds and kinds[c][1]}
            if not ids and not defaulted and index <= kinds.keys():
                raise RuntimeError(f"{self.schema}.{self.name}: no way to make {index} unique")
            found |= ids
        return found


async def _tables(conn: asyncpg.Connection, schema: str) -> list[Table]:
    """The schema's tenant-keyed tables in foreign-key order, with their per-row unique ids."""
    names = [
        r["table_name"]
        for r in await conn.fetch(
            """SELECT c.table_name FROM information_schema.columns c
               JOIN information_schema.tables t USING (table_schema, table_name)
               WHERE c.table_schema = $1 AND c.column_name = 'tenant_id'
                 AND t.table_type = 'BASE TABLE'""",
            schema,
        )
        if r["table_name"] not in NOT_CLONED
    ]
    tables: dict[str, Table] = {}
    for name in names:
        columns = await conn.fetch(
            """SELECT column_name, data_type,
                      column_default IS NOT NULL AS has_default, is_identity = 'YES'
               FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2
                 AND is_generated = 'NEVER'
               ORDER BY ordinal_position""",
            schema,
            name,
        )
        table = Table(schema, name, [(c[0], c[1], c[2]) for c in columns if not c[3]])
        for index in await conn.fetch(
            """SELECT array_agg(a.attname::text) AS cols
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY (i.indkey)
               WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique
               GROUP BY i.indexrelid""",
            schema,
            name,
        ):
            if "tenant_id" not in index["cols"]:
                table.unique_without_tenant.append(set(index["cols"]))
        for ref in await conn.fetch(
            """SELECT DISTINCT r.relname FROM pg_constraint k
               JOIN pg_class c ON c.oid = k.conrelid
               JOIN pg_class r ON r.oid = k.confrelid
               JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE k.contype = 'f' AND n.nspname = $1 AND c.relname = $2""",
            schema,
            name,
        ):
            if ref["relname"] != name:
                table.depends_on.add(ref["relname"])
        tables[name] = table
    ordered: list[Table] = []
    while tables:
        ready = [t for t in tables.values() if not (t.depends_on & tables.keys())]
        if not ready:
            raise RuntimeError(f"{schema}: a foreign-key cycle among {sorted(tables)}")
        ordered.extend(tables.pop(table.name) for table in ready)
    return ordered


async def _clone(conn: asyncpg.Connection, table: Table, renamed: set[str], count: int) -> int:
    """Copies the template's rows of one table to tenants 1..count-1; returns rows written.

    `renamed` holds every id column of the schema that copies renumber, so a
    column naming another table's row (a rollout id) follows its row.
    """
    unique = set().union(*table.unique_without_tenant) if table.unique_without_tenant else set()
    targets: list[str] = []
    values: list[str] = []
    for name, data_type, has_default in table.columns:
        if name == "tenant_id":
            expr = "'bench-t' || lpad(g::text, 5, '0')"
        elif name in unique and has_default and data_type not in ("text", "uuid"):
            continue  # a sequence gives each copy its own
        elif name in renamed and data_type == "uuid":
            expr = f"md5({name}::text || '-' || g)::uuid"
        elif name in renamed and data_type == "text":
            expr = f"CASE WHEN {name} = '' THEN {name} ELSE {name} || '-' || g END"
        else:
            expr = name
        targets.append(name)
        values.append(expr)
    status = await conn.execute(
        f"""INSERT INTO {table.schema}.{table.name} ({", ".join(targets)})
            SELECT {", ".join(values)} FROM {table.schema}.{table.name},
                   generate_series(1, $1::int - 1) AS g
            WHERE tenant_id = $2""",  # noqa: S608 - names from the catalog
        count,
        TEMPLATE,
    )
    return int(status.split()[-1])


async def clone_tenants(suite: Suite, count: int) -> dict[str, int]:
    """Every service's template rows, for `count - 1` more tenants; rows written per table."""
    written: dict[str, int] = {}
    conn = await asyncpg.connect(suite.admin_database_url())
    try:
        for schema in SERVICE_SCHEMAS:
            tables = await _tables(conn, schema)
            renamed = set().union(*(t.renamed() for t in tables)) if tables else set()
            async with conn.transaction():
                for table in tables:
                    written[f"{schema}.{table.name}"] = await _clone(conn, table, renamed, count)
        written["auth.clients"] = int(
            (
                await conn.execute(
                    """INSERT INTO auth.clients
                           (client_id, secret_hash, tenants, scopes, roles, created_at, updated_at)
                       SELECT 'bench-t' || lpad(g::text, 5, '0'), secret_hash,
                              ARRAY['bench-t' || lpad(g::text, 5, '0')], scopes, roles,
                              created_at, updated_at
                       FROM auth.clients, generate_series(1, $1::int - 1) AS g
                       WHERE client_id = $2""",
                    count,
                    TEMPLATE,
                )
            ).split()[-1]
        )
        for schema in (*SERVICE_SCHEMAS, "auth"):
            for (name,) in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", schema
            ):
                await conn.execute(f'ANALYZE "{schema}"."{name}"')
    finally:
        await conn.close()
    return written


@dataclass
class Reader:
    """One HTTP client's tenant, token and reads."""

    tenant: str
    token: str
    reads: list[tuple[str, str]]


async def readers(suite: Suite, tenants: list[str]) -> list[Reader]:
    """A token of its own tenant for each client, and the tenant's reads."""
    conn = await asyncpg.connect(suite.admin_database_url())
    try:
        rows = await conn.fetch(
            """SELECT DISTINCT ON (tenant_id) tenant_id, request_id::text
               FROM security.install_requests WHERE tenant_id = ANY ($1::text[])
               ORDER BY tenant_id, request_id""",
            sorted(set(tenants)),
        )
    finally:
        await conn.close()
    request_of = {r["tenant_id"]: r["request_id"] for r in rows}
    tokens: dict[str, str] = {}
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=suite.endpoints.gateway, timeout=120) as http:

        async def token_for(tenant: str) -> None:
            async with gate:
                tokens[tenant] = await _token(http, tenant, CLIENT_SECRET, tenant)

        await asyncio.gather(*(token_for(t) for t in sorted(set(tenants))))
    found: list[Reader] = []
    for tenant in tenants:
        t = f"/v1/tenants/{tenant}"
        found.append(
            Reader(
                tenant,
                tokens[tenant],
                [
                    ("tenancy GetTenant", t),
                    ("tenancy GetQuota", f"{t}/quota"),
                    ("auth ListClients", f"/v1/auth/clients?tenantId={tenant}"),
                    ("security GetInstallRequest", f"{t}/installs/{request_of[tenant]}"),
                    ("rollout ListRollouts", f"{t}/rollouts"),
                    ("slo ListSlos", f"{t}/slos"),
                ],
            )
        )
    return found


Samples = dict[str, list[float]]


async def run_round(
    gateway: str, clients: list[Reader], seconds: float, samples: Samples | None
) -> int:
    """Each client reads in a loop for `seconds` (once through when warming up); errors seen.

    aiohttp, not httpx: the load generator shares the machine's two cores with
    the suites, and httpx spent most of one core on 200 reads a second, so the
    reads waited on the client, not on Portico.
    """
    errors = 0
    # Idle connections are dropped well before uvicorn's 5 s keep-alive ends, so a
    # request never races the server closing the connection it was sent on.
    connector = aiohttp.TCPConnector(limit=len(clients), keepalive_timeout=2.0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(gateway, connector=connector, timeout=timeout) as http:
        stop = time.perf_counter() + seconds

        async def client(index: int, reader: Reader) -> None:
            nonlocal errors
            headers = {"authorization": f"Bearer {reader.token}"}
            step = index
            # Clients start spread over one period, not all in the same instant.
            due = time.perf_counter() + (index / len(clients) / CLIENT_RATE if CLIENT_RATE else 0)
            while True:
                name, path = reader.reads[step % len(reader.reads)]
                step += 1
                if CLIENT_RATE and samples is not None:
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                    # Timed from when the read was due, so a slow answer that
                    # delays the next read is counted against the suite.
                    started, due = due, due + 1 / CLIENT_RATE
                else:
                    started = time.perf_counter()
                status, body = 0, ""
                try:
                    async with http.get(path, headers=headers) as response:
                        status = response.status
                        body = await response.text()
                except (aiohttp.ClientError, TimeoutError) as exc:
                    # A dropped connection is the run's error, not the bench's end.
                    errors += 1
                    if errors <= 3:
                        print(f"  {name} {path}: {type(exc).__name__} {exc}")
                elapsed = time.perf_counter() - started
                if status == 0:
                    pass
                elif status != 200:
                    errors += 1
                    if errors <= 3:
                        print(f"  {name} {path}: {status} {body[:300]}")
                elif samples is not None:
                    samples[name].append(elapsed)
                if samples is None and step - index >= len(reader.reads):
                    return
                if samples is not None and time.perf_counter() >= stop:
                    return

        await asyncio.gather(*(client(i, r) for i, r in enumerate(clients)))
    return errors


def line(samples: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    return f"n={len(ms):6d} p50={percentile(ms, 0.5):7.2f}ms p99={percentile(ms, 0.99):8.2f}ms"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="portico-bench-tenants-"))
    baseline, scale = Suite("baseline", root), Suite("scale", root)
    print(f"tenant scale: {TENANTS} tenants, {CLIENTS} clients; {load()}; logs in {root}")
    try:
        for suite in (baseline, scale):
            suite.start()
        started = time.perf_counter()
        for suite in (baseline, scale):
            await suite.ready()
        print(f"  both suites up in {time.perf_counter() - started:.0f}s; {load()}")
        for suite in (baseline, scale):
            await set_up_template(suite)
        started = time.perf_counter()
        written = await clone_tenants(scale, TENANTS)
        seeded = time.perf_counter() - started
        print(f"  seeded {sum(written.values())} rows in {seeded:.1f}s; {load()}")
        for table, rows in sorted(written.items()):
            print(f"    {table}: {rows}")
        rng = random.Random(11)  # noqa: S311 - which tenants to read, not a secret
        picked = rng.sample(range(1, TENANTS), min(CLIENTS, TENANTS - 1)) if TENANTS > 1 else []
        scale_tenants = [tenant_id(i) for i in picked] or [TEMPLATE]
        scale_readers = await readers(
            scale, [scale_tenants[i % len(scale_tenants)] for i in range(CLIENTS)]
        )
        baseline_readers = await readers(baseline, [TEMPLATE] * CLIENTS)
        suites: list[tuple[Suite, list[Reader], Samples]] = [
            (baseline, baseline_readers, defaultdict(list)),
            (scale, scale_readers, defaultdict(list)),
        ]
        errors: dict[str, int] = defaultdict(int)
        for suite, clients, _ in suites:
            errors[suite.name] += await run_round(suite.endpoints.gateway, clients, 0, None)
        loads = [load()]
        for _ in range(ROUNDS):
            for suite, clients, samples in suites:
                errors[suite.name] += await run_round(
                    suite.endpoints.gateway, clients, SECONDS, samples
                )
                loads.append(load())
    finally:
        for suite in (baseline, scale):
            with contextlib.suppress(Exception):
                suite.stop()
    print(
        f"  {ROUNDS} rounds of {SECONDS:g}s per suite, alternating; {CLIENTS} clients each,"
        f" {f'{CLIENT_RATE:g} reads/s each' if CLIENT_RATE else 'closed loop'};"
        f" errors: baseline {errors['baseline']}, scale {errors['scale']}"
    )
    print("  " + "; ".join(loads))
    for suite, _, samples in suites:
        answered = sum(len(v) for v in samples.values())
        print(f"  {suite.name}: {answered / (ROUNDS * SECONDS):.0f} reads/s answered")
    (_, _, base), (_, _, ours) = suites
    for name in [*base, "all reads"]:
        b = [s for v in base.values() for s in v] if name == "all reads" else base[name]
        o = [s for v in ours.values() for s in v] if name == "all reads" else ours[name]
        if not b or not o:
            continue
        print(f"  {name}")
        print(f"    1 tenant       : {line(b)}")
        print(f"    {TENANTS:<6d} tenants: {line(o)}")
        print(
            f"    ratio {TENANTS}/1: p50 {percentile(o, 0.5) / percentile(b, 0.5):.2f}x,"
            f" p99 {percentile(o, 0.99) / percentile(b, 0.99):.2f}x"
        )
