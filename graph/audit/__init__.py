"""The audit trail: a hash-chained, append-only log of every look at child data, and its choke point.

It also records the auditors' own looks at the trail and every change to who may sign in (sign-ins,
lockouts, users added and disabled); `Actor` names whoever did those without being a signed-in viewer.

Append-only is a rule of this codebase, not of the database: Neo4j Community has no per-label
write privileges (fine-grained access control is Enterprise-only), so anyone holding the database
credentials can change an AuditEvent. Nothing in the code updates or deletes one, except redaction
(which removes a child's identifying details, authorised by a run recorded in the chain) and the
re-chaining migration; the hash chain makes any other change detectable by `verify`. Publishing the
head hash elsewhere (the `audit verify` command prints it) also catches a rewrite of the whole chain.

The modules, along the trail's seams: `form` (an event's hashed form: header, payload parts, digests),
`chain` (the append inside a caller's transaction, with the per-child index entries), `writer` (the
API's group commit), `choke` (the audited read, the only way to read child data), `queries` (a child's
last accesses, the auditors' search), `verification` (recomputing the chain, in full or from the
checkpoint), `runs` (verification as a background job), `redaction` (forgetting a child) and `upgrade`
(re-chaining the events stored before). Callers use the names below: `from graph import audit; audit.append(...)`.
See docs/audit.md.
"""

from graph.audit.chain import (
    GENESIS, OUTCOMES, REVOKED_DETAIL, Actor, AuditError, AuditRecord, UserRevoked, append, append_batch,
    event_fields, standing,
)
from graph.audit.choke import audited_read, audited_read_async
from graph.audit.form import LATER_FIELDS, canonical, chain_hash
from graph.audit.queries import Access, last_accesses, last_accesses_query, search
from graph.audit.redaction import REASONS, Redaction, redact_child
from graph.audit.runs import Busy, Status, Verifier, status
from graph.audit.verification import VerifyResult, read_checkpoint, verify
from graph.audit.writer import AuditWriter

__all__ = [
    "GENESIS", "LATER_FIELDS", "OUTCOMES", "REASONS", "REVOKED_DETAIL", "Access", "Actor", "AuditError",
    "AuditRecord", "AuditWriter", "Busy", "Redaction", "Status", "UserRevoked", "Verifier", "VerifyResult", "append",
    "append_batch", "audited_read", "audited_read_async", "canonical", "chain_hash", "event_fields", "last_accesses",
    "last_accesses_query", "read_checkpoint", "redact_child", "search", "standing", "status", "verify",
]
