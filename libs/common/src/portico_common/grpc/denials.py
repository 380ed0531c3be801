"""A record of every refused call, in the service's own schema (access_denials)."""

from __future__ import annotations

import logging
from typing import Protocol

from portico_common.db import Database
from portico_common.grpc.tokens import Claims
from portico_common.metrics import ACCESS_DENIED

log = logging.getLogger(__name__)


class DenialLog(Protocol):
    """Where the interceptor records a call it refused for a missing permission."""

    async def record(
        self, tenant_id: str, claims: Claims, method: str, permission: str
    ) -> None: ...


class PgDenialLog:
    """Writes denials to `access_denials` in their own transaction.

    A failure to record is logged and never turns the PERMISSION_DENIED the
    caller gets into another answer.
    """

    def __init__(self, db: Database, service: str) -> None:
        self._db = db
        self._service = service

    async def record(self, tenant_id: str, claims: Claims, method: str, permission: str) -> None:
        ACCESS_DENIED.labels(self._service, method.rsplit("/", 1)[-1], permission).inc()
        log.warning(
            "access denied",
            extra={
                "tenant_id": tenant_id,
                "subject": claims.subject,
                "method": method,
                "permission": permission,
                "roles": list(claims.roles),
            },
        )
        try:
            async with self._db.transaction(tenant_id) as conn:
                await conn.execute(
                    """INSERT INTO access_denials
                              (tenant_id, subject, method, permission, roles, scopes)
                       VALUES ($1, $2, $3, $4, $5, $6)""",
                    tenant_id,
                    claims.subject,
                    method,
                    permission,
                    list(claims.roles),
                    list(claims.scopes),
                )
        except Exception:  # the denial stands whether or not it is stored
            log.exception("could not record an access denial", extra={"method": method})
