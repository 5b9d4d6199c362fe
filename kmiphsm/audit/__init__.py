"""The audit trail: one chained JSON line per request item (issue 14).

- :mod:`.chain`: the line format and its SHA-256 chain (stdlib only);
- :mod:`.trail`: :class:`AuditTrail`, the per-process writer (group commit, rotation);
- :mod:`.verify` and ``python -m kmiphsm.audit verify PATH...``: prove a chain intact.

Imports: the standard library, and Twisted's Deferred in :mod:`.trail` (the server's layer).
"""

from kmiphsm.audit.chain import item_entry
from kmiphsm.audit.trail import AuditError, AuditTrail

__all__ = ["AuditError", "AuditTrail", "item_entry"]
