"""Auth's part of a tenant's deletion beyond its `tenant_id` rows: the tenant's clients.

Clients are platform rows (row-level security lets only the platform's
transaction see them), each naming the tenants it may act for. A client of
the deleted tenant alone is deleted with its lockout; a client of several
tenants loses the deleted one. Running it again changes nothing.
"""

from __future__ import annotations

from portico_common.db import Database
from portico_common.tenants import ALL_TENANTS


async def delete_tenant_clients(db: Database, tenant_id: str) -> int:
    """Deletes (or narrows) the tenant's clients; how many rows changed."""
    async with db.transaction(ALL_TENANTS) as conn:
        await conn.execute(
            """DELETE FROM client_lockouts WHERE client_id IN
                   (SELECT client_id FROM clients WHERE tenants = ARRAY[$1]::text[])""",
            tenant_id,
        )
        deleted = await conn.execute(
            "DELETE FROM clients WHERE tenants = ARRAY[$1]::text[]", tenant_id
        )
        narrowed = await conn.execute(
            """UPDATE clients SET tenants = array_remove(tenants, $1)
                WHERE $1 = ANY(tenants)""",
            tenant_id,
        )
    return int(deleted.rsplit(" ", 1)[-1]) + int(narrowed.rsplit(" ", 1)[-1])
