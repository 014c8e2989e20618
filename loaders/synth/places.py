"""Authorities, addresses at real postcodes, and where each household and child has lived."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from loaders import geography
from loaders.synth import names, rates
from loaders.synth.fmt import DRAMA_FALLBACK_PREFIX, OPEN, REGION_PHONE_PREFIX

MAX_MOVES = 4
_SUFFIXES = (", City of", ", County of")


@dataclass(frozen=True)
class Geo:
    """Authorities (indexed 0..L-1 by code; all 153, or one region's) and their postcodes as flat arrays.

    ``number`` is each authority's three-digit LA number (as in UPNs), the same whichever Geo holds it.
    """

    codes: np.ndarray
    names: np.ndarray
    regions: np.ndarray
    towns: np.ndarray
    places: np.ndarray
    slugs: np.ndarray
    phone_prefix: np.ndarray
    districts: np.ndarray
    number: np.ndarray
    weight: np.ndarray
    pool_start: np.ndarray
    pool_len: np.ndarray
    postcode: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    neighbours: np.ndarray
    region_peers: np.ndarray
    region_peer_count: np.ndarray

    def __len__(self) -> int:
        return len(self.codes)


def _town(name: str, region: str) -> str:
    if region == "London":
        return "London"
    for suffix in _SUFFIXES:
        name = name.removesuffix(suffix)
    return name


@lru_cache(maxsize=1)
def load_geo() -> Geo:
    """Authorities and postcode pools from loaders.geography, with neighbours by distance."""
    return _make_geo(geography.load_authorities())


def region_geos() -> list[tuple[str, Geo]]:
    """England region by region (sorted by name): each region's authorities as a Geo of its own.

    Neighbours are the nearest authorities within the region, so a region is a closed world.
    """
    authorities = geography.load_authorities()
    return [(region, _make_geo([a for a in authorities if a.region == region]))
            for region in sorted({a.region for a in authorities})]


def _make_geo(authorities: list[geography.Authority]) -> Geo:
    """A Geo of the given authorities (in code order), with neighbours among them."""
    pools = geography.postcode_pools()
    number = {a.code: 201 + i for i, a in enumerate(geography.load_authorities())}
    codes = [a.code for a in authorities]
    lens = np.array([len(pools[c]) for c in codes], dtype=np.int64)
    east = np.concatenate([pools[c].easting for c in codes]).astype(np.int64)
    north = np.concatenate([pools[c].northing for c in codes]).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    # Centroids of each pool stand in for the authority's location when choosing neighbours.
    cx = np.add.reduceat(east, starts) / lens
    cy = np.add.reduceat(north, starts) / lens
    dist = np.hypot(cx[:, None] - cx[None, :], cy[:, None] - cy[None, :])
    np.fill_diagonal(dist, np.inf)
    neighbours = np.argsort(dist, axis=1, kind="stable")[:, : min(rates.NEIGHBOURS, len(codes) - 1)]
    regions = np.array([a.region for a in authorities], dtype=object)
    peers = [np.flatnonzero((regions == r) & (np.arange(len(codes)) != i)) for i, r in enumerate(regions)]
    width = max(len(p) for p in peers)
    padded = np.array([np.pad(p, (0, width - len(p)), constant_values=-1) for p in peers], dtype=np.int64)
    return Geo(
        codes=np.array(codes, dtype=object),
        names=np.array([a.name for a in authorities], dtype=object),
        regions=regions,
        towns=np.array([_town(a.name, a.region) for a in authorities], dtype=object),
        places=np.array([_town(a.name, "") for a in authorities], dtype=object),
        slugs=np.array([names.slug(_town(a.name, "")) for a in authorities], dtype=object),
        phone_prefix=np.array([REGION_PHONE_PREFIX.get(a.region, DRAMA_FALLBACK_PREFIX) for a in authorities],
                              dtype=object),
        districts=np.array([max(1, len(a.districts)) for a in authorities], dtype=np.int64),
        number=np.array([number[c] for c in codes], dtype=np.int64),
        weight=np.array([pools[c].weight for c in codes], dtype=np.float64),
        pool_start=starts.astype(np.int64),
        pool_len=lens,
        postcode=np.concatenate([pools[c].postcode for c in codes]).astype(object),
        easting=east,
        northing=north,
        neighbours=neighbours,
        region_peers=padded,
        region_peer_count=np.array([len(p) for p in peers], dtype=np.int64),
    )


def apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` in proportion to ``weights`` exactly (largest remainder)."""
    share = total * weights / weights.sum()
    counts = np.floor(share).astype(np.int64)
    short = total - counts.sum()
    if short:
        order = np.lexsort((np.arange(len(share)), -(share - counts)))
        counts[order[:short]] += 1
    return counts


def elsewhere(geo: Geo, la: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another authority for each of ``la``: usually a neighbour, else one in the same region."""
    n = len(la)
    near = geo.neighbours[la, rng.integers(0, geo.neighbours.shape[1], n)]
    peer = geo.region_peers[la, (rng.random(n) * geo.region_peer_count[la]).astype(np.int64)]
    return np.where(rng.random(n) < rates.NEIGHBOUR_MOVE_SHARE, near, peer)


class AddressBook:
    """Collects addresses as (authority, postcode) and renders them with unique house numbers."""

    def __init__(self, geo: Geo, rng: np.random.Generator):
        self.geo, self.rng = geo, rng
        self.la: list[np.ndarray] = []
        self.pool: list[np.ndarray] = []
        self.count = 0

    def add(self, la: np.ndarray) -> np.ndarray:
        """New addresses at random postcodes of the given authorities; returns their indices."""
        la = np.asarray(la, dtype=np.int64)
        offset = (self.rng.random(len(la)) * self.geo.pool_len[la]).astype(np.int64)
        self.la.append(la)
        self.pool.append(self.geo.pool_start[la] + offset)
        first, self.count = self.count, self.count + len(la)
        return np.arange(first, self.count, dtype=np.int64)

    def authority(self) -> np.ndarray:
        return np.concatenate(self.la) if self.la else np.empty(0, dtype=np.int64)

    def columns(self, address_ids: np.ndarray) -> dict[str, np.ndarray]:
        """The addresses feed: each postcode has one street; numbers never repeat within it."""
        geo = self.geo
        la, pool = self.authority(), np.concatenate(self.pool)
        order = np.argsort(pool, kind="stable")
        sorted_pool = pool[order]
        group_start = np.flatnonzero(np.r_[True, sorted_pool[1:] != sorted_pool[:-1]])
        sizes = np.diff(np.r_[group_start, len(pool)])
        rank = np.empty(len(pool), dtype=np.int64)
        rank[order] = np.arange(len(pool)) - np.repeat(group_start, sizes)
        mix = pool * 2654435761 % 4294967291
        street = names.table(names.STREETS)[mix % len(names.STREETS)]
        first_number = 1 + 2 * (mix // 7 % 40)
        house = first_number + 2 * rank
        flat = self.rng.random(len(pool)) < rates.FLAT_SHARE
        num = house.astype(str).astype(object)
        building = names.table(names.BUILDING_NAMES)[mix // 13 % len(names.BUILDING_NAMES)]
        flat_no = (1 + rank + mix // 17 % 20).astype(str).astype(object)
        line1 = np.where(flat, "Flat " + flat_no + ", " + building, num + " " + street)
        # A block of flats takes the even number beside the street's odd-numbered houses.
        line2 = np.where(flat, (first_number + 1).astype(str).astype(object) + " " + street, "")
        return {
            "address_id": address_ids,
            "line1": line1,
            "line2": line2,
            "town": geo.towns[la],
            "postcode": geo.postcode[pool],
            "la_code": geo.codes[la],
            "easting": geo.easting[pool].astype(str).astype(object),
            "northing": geo.northing[pool].astype(str).astype(object),
        }


@dataclass
class Homes:
    """Each household's residences; slot 0 is the current (or last known) one."""

    count: np.ndarray
    la: np.ndarray
    since: np.ndarray
    until: np.ndarray
    address: np.ndarray

    def slot_at(self, hh: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Which residence slot each household was in on the given day."""
        later = (self.since[hh] > days[:, None]) & (np.arange(self.la.shape[1]) < self.count[hh, None])
        return np.minimum(later.sum(axis=1), self.count[hh] - 1)

    def la_at(self, hh: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self.la[hh, self.slot_at(hh, days)]


def household_homes(
    hh_la: np.ndarray, eldest_dob: np.ndarray, as_of: int, book: AddressBook, geo: Geo, rng: np.random.Generator
) -> Homes:
    """Move histories over the last HISTORY_YEARS: Poisson moves, a share across authorities."""
    n = len(hh_la)
    slots = MAX_MOVES + 1
    window = rates.HISTORY_YEARS * 365
    moves = np.minimum(rng.poisson(rates.MOVE_RATE_PER_YEAR * rates.HISTORY_YEARS, n), MAX_MOVES)
    # Move days, latest first; unused slots sort last.
    move_day = as_of - (rng.random((n, MAX_MOVES)) * window).astype(np.int64)
    move_day[np.arange(MAX_MOVES) >= moves[:, None]] = -OPEN
    move_day = -np.sort(-move_day, axis=1)
    for j in range(1, MAX_MOVES):  # two moves on one day would leave an empty residence
        move_day[:, j] = np.where(move_day[:, j] > -OPEN, np.minimum(move_day[:, j], move_day[:, j - 1] - 1), -OPEN)
    since = np.full((n, slots), -OPEN, dtype=np.int64)
    since[:, :MAX_MOVES] = move_day
    # The oldest known home began before the window opened, and before the eldest child's
    # birth, so every child has a known home from birth.
    oldest = as_of - window - 1 - (rng.random(n) * 3650).astype(np.int64)
    since[np.arange(n), moves] = np.minimum(oldest, eldest_dob)
    until = np.full((n, slots), -OPEN, dtype=np.int64)
    until[:, 0] = OPEN
    until[:, 1:] = since[:, :-1]
    la = np.full((n, slots), -1, dtype=np.int64)
    la[:, 0] = hh_la
    for j in range(1, slots):
        had = moves >= j
        cross = had & (rng.random(n) < rates.CROSS_AUTHORITY_MOVE_SHARE)
        la[:, j] = np.where(had, la[:, j - 1], -1)
        la[cross, j] = elsewhere(geo, la[cross, j - 1], rng)
    count = moves + 1
    used = np.arange(slots) < count[:, None]
    address = np.full((n, slots), -1, dtype=np.int64)
    address[used] = book.add(la[used])
    return Homes(count=count, la=la, since=since, until=until, address=address)


@dataclass
class Residences:
    """Child-level residences sorted by (child, since); OPEN ``until`` means current."""

    child: np.ndarray
    address: np.ndarray
    la: np.ndarray
    since: np.ndarray
    until: np.ndarray

    def sort(self) -> Residences:
        order = np.lexsort((self.since, self.child))
        return Residences(*(a[order] for a in (self.child, self.address, self.la, self.since, self.until)))

    def last_row(self, n_children: int) -> np.ndarray:
        """Index of each child's latest residence row (-1 if none)."""
        last = np.full(n_children, -1, dtype=np.int64)
        last[self.child] = np.arange(len(self.child))
        return last

    def la_at(self, child: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Authority each child lived in on the given day (first known home if earlier)."""
        key = self.child * (1 << 24) + (self.since + OPEN)
        probe = child * (1 << 24) + (days + OPEN)
        row = np.searchsorted(key, probe, side="right") - 1
        first = np.searchsorted(self.child, child, side="left")
        row = np.where((row < 0) | (self.child[np.maximum(row, 0)] != child), first, row)
        return self.la[row]


def child_residences(homes: Homes, child_hh: np.ndarray, dob: np.ndarray) -> Residences:
    """Each child's share of their household's homes, from birth on."""
    parts = []
    children = np.arange(len(child_hh))
    for j in range(homes.la.shape[1]):
        hh = child_hh
        keep = (homes.count[hh] > j) & (homes.until[hh, j] > dob)
        c, h = children[keep], hh[keep]
        parts.append((c, homes.address[h, j], homes.la[h, j], np.maximum(homes.since[h, j], dob[c]), homes.until[h, j]))
    return Residences(*(np.concatenate(p) for p in zip(*parts))).sort()


def move_children(res: Residences, child: np.ndarray, day: np.ndarray, address: np.ndarray,
                  la: np.ndarray) -> Residences:
    """Children leave their home on ``day`` for a new address (a care placement)."""
    start = np.full(max(int(res.child.max(initial=-1)), int(child.max(initial=-1))) + 1, OPEN, dtype=np.int64)
    start[child] = day
    cut = start[res.child]
    kept = res.since < cut
    old = (res.child, res.address, res.la, res.since, np.minimum(res.until, cut))
    new = (child, address, la, day, np.full(len(child), OPEN, dtype=np.int64))
    return Residences(*(np.concatenate([o[kept], n]) for o, n in zip(old, new))).sort()
