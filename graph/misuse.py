"""Misuse watch: a user who opens many children's records in a short time is flagged to their authority's team.

ContactPoint's misuse cases were staff looking up their own families; looking through many records at
once is what the audit trail can show as it happens. After each group commit the API's audit writer
hands its events to a `Watch`, which counts, for each user who opened a record, the distinct children
their record-opening events named within the window; past the threshold it raises one `misuse` alert
to the management team (`la_admin`) of the user's own authority. Settings: CP_API_MISUSE_RECORDS and
CP_API_MISUSE_MINUTES (api/config.py); rules in docs/alerts.md.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from neo4j import Driver

log = logging.getLogger("contactpoint.misuse")

# Events that open one child's record; a search lists many children and does not count.
RECORD_ACTIONS = ("card", "network", "moves", "accesses", "override", "chronology", "chronology_export")

# Per user: the distinct children their record-opening events named since $since (the composite index on
# (user_id, at) serves it). Over $records, a misuse alert to their own authority, one per user and window
# bucket (the alert key is unique), and none while one raised within the window exists.
FLAG = """
UNWIND $users AS u
CALL (u) {
  MATCH (e:AuditEvent)
  WHERE e.user_id = u.user_id AND e.at >= $since AND e.action IN $actions
  UNWIND e.children AS child
  RETURN count(DISTINCT child) AS records, min(e.at) AS first_at, max(e.at) AS last_at
}
WITH u, records, first_at, last_at WHERE records > $records
WITH u, records, first_at, last_at, EXISTS {
  MATCH (old:Alert {la_code: u.la_code})
  WHERE old.kind = 'misuse' AND old.user_id = u.user_id AND old.raised_at >= $since } AS already
CALL (u, records, first_at, last_at, already) {
  UNWIND CASE WHEN already THEN [] ELSE [true] END AS raising
  MERGE (a:Alert {key: 'misuse|' + u.user_id + '|' + $bucket + '|' + u.la_code})
    ON CREATE SET a.id = randomUUID(), a.kind = 'misuse', a.state = 'open', a.la_code = u.la_code,
                  a.user_id = u.user_id, a.user_role = u.role, a.user_la_code = u.la_code,
                  a.records = records, a.window_minutes = $minutes, a.first_at = first_at,
                  a.last_at = last_at, a.raised_at = $now
  RETURN count(CASE WHEN a.raised_at = $now THEN a END) AS raised
}
RETURN u.user_id AS user_id, records, raised
"""


@dataclass(frozen=True)
class Flagged:
    """A user over the threshold in the window: how many records, and whether this check raised the alert."""

    user_id: str
    records: int
    raised: bool


def flag(driver: Driver, *, database: str, users: Sequence[Mapping[str, str]], records: int, minutes: int,
         now: datetime) -> list[Flagged]:
    """Raise a misuse alert for each of `users` ({user_id, role, la_code}) past `records` in `minutes`.

    Returns every user over the threshold, alerted now or already within the window.
    """
    window = timedelta(minutes=minutes)
    bucket = str(int(now.timestamp() // window.total_seconds()))
    rows, _, _ = driver.execute_query(FLAG, users=list(users), since=now - window, actions=list(RECORD_ACTIONS),
                                      records=records, minutes=minutes, bucket=bucket, now=now,
                                      database_=database)
    return [Flagged(r["user_id"], r["records"], r["raised"] > 0) for r in rows]


class Watch:
    """The audit writer's after-commit hook: checks the users whose committed events opened records.

    A user found over the threshold is not checked again by this process until the window has passed.
    A failed check is logged and skipped: the events are in the trail, and the next batch checks again.
    """

    def __init__(self, driver: Driver, *, database: str, records: int, minutes: int) -> None:
        self._driver, self._database, self.records, self.minutes = driver, database, records, minutes
        self._quiet_until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def __call__(self, events: Sequence[Mapping[str, Any]]) -> None:
        now = datetime.now(timezone.utc)
        with self._lock:
            users = {e["user_id"]: {"user_id": e["user_id"], "role": e["role"], "la_code": e["la_code"]}
                     for e in events
                     if e["action"] in RECORD_ACTIONS and e["children"]
                     and self._quiet_until.get(e["user_id"], now) <= now}
        if not users:
            return
        try:
            found = flag(self._driver, database=self._database, users=list(users.values()), records=self.records,
                         minutes=self.minutes, now=now)
        except Exception:  # noqa: BLE001 (a watch must never fail the requests it watches)
            log.warning("misuse check failed for %d users", len(users), exc_info=True)
            return
        with self._lock:
            for hit in found:
                self._quiet_until[hit.user_id] = now + timedelta(minutes=self.minutes)
                if hit.raised:
                    log.warning("misuse alert: user %s opened %d records in %d minutes",
                                hit.user_id, hit.records, self.minutes)
