"""The generator's emergency attendances against the published figures they are calibrated to.

Generates a synthetic England (the real generator, in a temporary folder) and measures, over the 12 months
up to the generation date on UK days (the window of the `repeat_emergency` rule):

- the share of under-16s who attended at least once (published: about 22%, Greenfield et al. 2021);
- the share of those who attended four times or more (published: 9.1%, the same study);
- attendances per child-year at 0-4 (published: 0.66, OHID Fingertips) and 5-17;
- the share of all children with three or more attendances: those the `repeat_emergency` rule alerts on.

Results go to bench/results/emergency-LABEL.json. Usage:

    .venv/bin/python bench/emergency_bench.py --children 200000 --label 200k
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from graph.config import PROJECT_ROOT
from graph.instants import uk_day, year_before
from loaders.generate import DEFAULT_AS_OF, GENERATOR_VERSION, generate
from loaders.synth import rates

RESULTS = PROJECT_ROOT / "bench" / "results"
PUBLISHED = {"under_16_attending_share": 0.22, "attenders_4_plus_share": 0.091, "rate_0_to_4": rates.AE_RATE_UNDER_5}


def _years(dob: date, day: date) -> int:
    return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))


def measure(folder: Path, as_of: date) -> dict[str, object]:
    """The shares above, from the generated children and attendances feeds."""
    first_day = year_before(as_of) + timedelta(days=1)
    with (folder / "children.csv").open(newline="") as f:
        dob = {r["child_id"]: date.fromisoformat(r["dob"]) for r in csv.DictReader(f)}
    visits: Counter[str] = Counter()
    with (folder / "attendances.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if first_day <= uk_day(datetime.fromisoformat(row["at"])) <= as_of:
                visits[row["child_id"]] += 1
    ages = {cid: _years(born, as_of) for cid, born in dob.items() if born <= as_of and _years(born, as_of) < 18}
    under_16 = [c for c, age in ages.items() if age < 16]
    attending = [c for c in under_16 if visits[c] >= 1]
    young = [c for c, age in ages.items() if age < 5]
    older = [c for c, age in ages.items() if age >= 5]
    repeat = sum(1 for c in ages if visits[c] >= 3)
    return {
        "children": len(ages),
        "under_16_attending_share": round(len(attending) / len(under_16), 4),
        "attenders_4_plus_share": round(sum(1 for c in attending if visits[c] >= 4) / len(attending), 4),
        "rate_0_to_4": round(sum(visits[c] for c in young) / len(young), 3),
        "rate_5_to_17": round(sum(visits[c] for c in older) / len(older), 3),
        "three_plus_children": repeat,
        "three_plus_share": round(repeat / len(ages), 4),
        "four_plus_share": round(sum(1 for c in ages if visits[c] >= 4) / len(ages), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--children", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--label", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp), children=args.children, seed=args.seed, as_of=DEFAULT_AS_OF)
        measured = measure(Path(tmp), DEFAULT_AS_OF)
    result = {"label": args.label, "generator_version": GENERATOR_VERSION, "seed": args.seed,
              "as_of": DEFAULT_AS_OF.isoformat(), "window": "the 12 months up to as_of, UK days",
              "published": PUBLISHED, "measured": measured,
              "command": f"bench/emergency_bench.py --children {args.children} --seed {args.seed} --label {args.label}"}
    print(json.dumps(measured, indent=2))
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"emergency-{args.label}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
