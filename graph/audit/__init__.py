"""The audit trail: a hash-chained, append-only log of every look at child data, and its choke point.

It also records the auditors' own looks at the trail and every change to who may sign in (sign-ins,
lockouts, users added and disabled); `Actor` names whoever did those without being a signed-in viewer.

Append-only is a rule of this codebase, not of the database: Neo4j Community has no per-label
write privileges (fine-grained access control is Enterprise-only), so anyone holding the database
credentials can change an AuditEvent. Nothing in the code updates or deletes one (the only write
besides CREATE is the advance of the chain's head), and the hash chain makes any change made
outside the code detectable by `verify`. Publishing the head hash elsewhere (the `audit verify`
command prints it) also catches a rewrite of the whole chain.

The modules, along the trail's seams: `chain` (an event's form and hash, the append inside a
caller's transaction), `writer` (the API's group commit), `choke` (the audited read, the only way
to read child data), `queries` (a child's last accesses, the auditors' search) and `verification`
(recomputing the chain). Callers use the names below: `from graph import audit; audit.append(...)`.
"""

from graph.audit.chain import (
    GENESIS, LATER_FIELDS, OUTCOMES, REVOKED_DETAIL, Actor, AuditError, AuditRecord, UserRevoked, append,
    append_batch, canonical, chain_hash, event_fields, standing,
)
from graph.audit.choke import audited_read, audited_read_async
from graph.audit.queries import Access, last_accesses, last_accesses_query, search
from graph.audit.verification import VerifyResult, verify
from graph.audit.writer import AuditWriter

__all__ = [
    "GENESIS", "LATER_FIELDS", "OUTCOMES", "REVOKED_DETAIL", "Access", "Actor", "AuditError", "AuditRecord",
    "AuditWriter", "UserRevoked", "VerifyResult", "append", "append_batch", "audited_read", "audited_read_async",
    "canonical", "chain_hash", "event_fields", "last_accesses", "last_accesses_query", "search", "standing", "verify",
]
