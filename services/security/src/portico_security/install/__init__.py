"""Secure install: install requests, the tenant's install policy, approvals, the audit trail."""
