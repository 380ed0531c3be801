"""security's sensitive fields, sealed with the tenant's data key: the one place that says which.

Approvers' comments live only in these two fields; the install events say
whether an approver commented, never what (the outbox and JetStream are out of
crypto-shredding's reach).
"""

from __future__ import annotations

from portico_common.crypto.keyring import SensitiveField, SensitiveFields

INSTALL_REQUEST_BODY = SensitiveField(
    "install_requests",
    "body_sealed",
    "an install request's approval workflow: approvers' comments, and the history and"
    " rejection reasons that quote them; reviewers' private notes",
)

AUDIT_REASON = SensitiveField(
    "audit_records",
    "reason_sealed",
    "an audit record's reason: the approver's comment or rejection reason it quotes",
)

SECURITY_SENSITIVE_FIELDS = SensitiveFields("security", [INSTALL_REQUEST_BODY, AUDIT_REASON])
