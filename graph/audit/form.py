"""An event's hashed form: a header that never identifies a child, a payload that may, and the digests joining them.

Scheme 2 (every event written since the trail could forget). The header is who looked, as what, from
where, when, doing what, with what outcome, in which request, and the chain's own fields. The payload is
split into parts: one per child the event shows (`children`), one per child it only concerns (`about`:
the child an auditor searched the trail for), and one context part (`purpose` and `detail_json`, free text
that may name anyone). Each part is digested with a random salt of its own:

    part digest     = sha256(salt 0x1f kind 0x1f value)
    payload_digest  = sha256(the lines "kind:part digest", children, then about, then context)
    hash            = sha256(prev_hash LF canonical header LF payload_digest)

Redacting a child removes its parts (value and salt) and the context part, and keeps every part's digest
in `part_digests`, so the payload digest, and with it the chain, still verifies, while what remains is
still checked against its digest. The salts keep a kept digest from confirming a guess at what was
removed (a child's id is easy to guess; a 128-bit salt is not). Scheme 1 (the events stored before)
hashed the whole event's canonical JSON; `chain_hash` still verifies them (graph.audit.upgrade re-chains
them once into scheme 2, so that they too can be redacted).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

SCHEME = 2
HEADER_FIELDS = ("id", "seq", "at", "user_id", "role", "la_code", "agency_id", "action", "outcome", "request_id",
                 "client_request_id", "flagged", "scheme")
CHILD, ABOUT, CONTEXT = "child", "about", "context"
# Scheme 1 only: fields events gained after the chain began, hashed only when set, so the events stored
# before them verify as they were written.
LATER_FIELDS = ("client_request_id",)
_SEP = "\x1f"


def native(at: Any) -> datetime:
    """A driver DateTime (or a datetime) as a datetime."""
    return at.to_native() if hasattr(at, "to_native") else at


def _iso(at: Any) -> str | None:
    return None if at is None else native(at).astimezone(timezone.utc).isoformat(timespec="microseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def salt() -> str:
    """A fresh random salt for one payload part (128 bits, hex)."""
    return secrets.token_hex(16)


def canonical(fields: Mapping[str, Any]) -> str:
    """Scheme 1's hashed form: the event's JSON with sorted keys, fixed separators, `at` in UTC ISO."""
    payload = {k: v for k, v in fields.items()
               if k in _V1_FIELDS and not (k in LATER_FIELDS and v is None)}
    payload["at"] = _iso(payload.get("at"))
    payload["children"] = list(payload.get("children") or ())
    return _dumps(payload)


_V1_FIELDS = frozenset({"id", "seq", "at", "user_id", "role", "la_code", "agency_id", "action", "children",
                        "purpose", "request_id", "client_request_id", "outcome", "flagged", "detail_json"})


def canonical_header(fields: Mapping[str, Any]) -> str:
    """Scheme 2's hashed header: the non-identifying fields as canonical JSON, `at` in UTC ISO."""
    header = {k: fields.get(k) for k in HEADER_FIELDS}
    header["at"] = _iso(header["at"])
    return _dumps(header)


def part_digest(part_salt: str, kind: str, value: str) -> str:
    """One payload part's digest: sha256 of its salt, its kind and its value, hex."""
    return hashlib.sha256(f"{part_salt}{_SEP}{kind}{_SEP}{value}".encode()).hexdigest()


def context_value(purpose: Any, detail_json: Any) -> str:
    """The context part's value: the stated purpose and the detail, as canonical JSON."""
    return _dumps({"detail_json": detail_json, "purpose": purpose})


def digest_parts(parts: Sequence[str]) -> str:
    """The payload digest of its parts' "kind:digest" lines, in order."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def present_parts(fields: Mapping[str, Any]) -> tuple[dict[str, list[str]], str | None]:
    """The digests of the parts an event still holds, by kind; or a problem with its stored form."""
    found: dict[str, list[str]] = {CHILD: [], ABOUT: [], CONTEXT: []}
    for kind, ids, salts in ((CHILD, "children", "child_salts"), (ABOUT, "about", "about_salts")):
        values, part_salts = list(fields.get(ids) or ()), list(fields.get(salts) or ())
        if len(values) != len(part_salts):
            return found, f"its {ids} and their salts differ in number"
        found[kind] = [part_digest(s, kind, str(v)) for s, v in zip(part_salts, values)]
    if fields.get("context_salt") is not None:
        found[CONTEXT] = [part_digest(fields["context_salt"], CONTEXT,
                                      context_value(fields.get("purpose"), fields.get("detail_json")))]
    elif fields.get("purpose") is not None or fields.get("detail_json") is not None:
        return found, "its purpose or detail has no salt"
    return found, None


def all_parts(fields: Mapping[str, Any]) -> list[str]:
    """Every part of an event that holds its whole payload, as "kind:digest" lines in order."""
    found, problem = present_parts(fields)
    if problem is not None:
        raise ValueError(problem)
    return [f"{kind}:{d}" for kind in (CHILD, ABOUT, CONTEXT) for d in found[kind]]


def payload_problem(fields: Mapping[str, Any]) -> str | None:
    """Why an event's payload does not match its payload digest, or None if it does.

    A whole event's parts give the digest directly; a redacted event's kept `part_digests` must contain
    the digest of every part it still holds, kind by kind and in order, and give the digest.
    """
    found, problem = present_parts(fields)
    if problem is not None:
        return problem
    kept = fields.get("part_digests")
    if kept is None:
        if fields.get("context_salt") is None or fields.get("redaction_reason") is not None:
            return "its payload was removed without its digests (not a redaction)"
        lines = [f"{kind}:{d}" for kind in (CHILD, ABOUT, CONTEXT) for d in found[kind]]
    else:
        if not fields.get("redaction_reason") or fields.get("redaction_seq") is None:
            return "it holds kept digests but no redaction record"
        lines = list(kept)
        for kind in (CHILD, ABOUT, CONTEXT):
            if not _in_order(found[kind], [line.split(":", 1)[1] for line in lines if line.startswith(kind + ":")]):
                return f"a {kind} part it holds is not among its kept digests"
    if digest_parts(lines) != fields.get("payload_digest"):
        return "its payload does not match its payload digest"
    return None


def _in_order(present: list[str], kept: list[str]) -> bool:
    """Whether `present` is a subsequence of `kept` (what redaction left, in the order it was written)."""
    it = iter(kept)
    return all(any(d == k for k in it) for d in present)


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """The event's hash, by its scheme: scheme 2 over its header and its stored payload digest, 1 over all of it."""
    if fields.get("scheme") == SCHEME:
        return hashlib.sha256(
            f"{prev_hash}\n{canonical_header(fields)}\n{fields.get('payload_digest')}".encode()).hexdigest()
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def seal(fields: dict[str, Any]) -> dict[str, Any]:
    """Give an event's payload fresh salts and its payload digest (scheme 2), in place; returns it."""
    fields["scheme"] = SCHEME
    fields["child_salts"] = [salt() for _ in fields.get("children") or ()]
    fields["about_salts"] = [salt() for _ in fields.get("about") or ()]
    fields["context_salt"] = salt()
    fields["payload_digest"] = digest_parts(all_parts(fields))
    return fields


def redacted(fields: Mapping[str, Any], child_id: str) -> dict[str, Any]:
    """The fields an event keeps once `child_id` is redacted from it: its other children, and every digest.

    The context (purpose and detail) goes too: free text that may name the child.
    """
    kept = fields.get("part_digests") or all_parts(fields)
    out: dict[str, Any] = {"part_digests": list(kept)}
    for ids, salts in (("children", "child_salts"), ("about", "about_salts")):
        pairs = [(v, s) for v, s in zip(fields.get(ids) or (), fields.get(salts) or ()) if v != child_id]
        out[ids], out[salts] = [v for v, _ in pairs], [s for _, s in pairs]
    return out


def index_ids(ids: Sequence[str] | None) -> list[str]:
    """The distinct ids of a list, in order: one index entry per child an event names."""
    return list(dict.fromkeys(ids or ()))
