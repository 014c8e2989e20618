"""Name normalisation and the nickname table the matcher and the synthetic sources share."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from functools import lru_cache

# The nickname table is the `nicknames` package (PyPI, Apache-2.0): Carlton Northern's hand-curated
# list of English given names and their nicknames (https://github.com/carltonnorthern/nicknames),
# about 2,700 pairs shipped inside the wheel, so it installs and works offline. It was compiled from
# US genealogy sources, so a few British forms (nickname, formal) are added below, each seen in ONS
# baby-name lists.
UK_VARIANTS = (
    ("alfie", "alfred"), ("evie", "eve"), ("evie", "evelyn"), ("maisie", "margaret"), ("izzy", "isabella"),
    ("izzy", "isabelle"), ("bella", "isabella"), ("issy", "isabel"), ("ellie", "eleanor"), ("ellie", "elena"),
    ("lily", "lilian"), ("freddie", "frederick"), ("freddie", "alfred"), ("archie", "archibald"),
    ("teddy", "edward"), ("ted", "edward"), ("theo", "theodore"), ("ollie", "oliver"), ("olly", "oliver"), ("harry", "henry"),
    ("jim", "james"), ("jamie", "james"), ("kit", "christopher"), ("zac", "zachary"), ("zach", "zachary"),
    ("seb", "sebastian"), ("max", "maximilian"), ("alex", "alexander"), ("alex", "alexandra"),
    ("sasha", "alexandra"), ("millie", "amelia"), ("milly", "amelia"), ("lottie", "charlotte"),
    ("tilly", "matilda"), ("tilda", "matilda"), ("flo", "florence"), ("florrie", "florence"),
    ("poppy", "penelope"), ("nell", "eleanor"), ("nellie", "eleanor"), ("rosie", "rose"), ("sophie", "sophia"),
    ("libby", "elizabeth"), ("beth", "bethany"),
)
# Spelling variants of one name, each way round.
SPELLINGS = (
    ("muhammad", "mohammed"), ("muhammad", "mohammad"), ("mohammed", "mohammad"), ("mohamed", "mohammed"),
    ("yusuf", "yousef"), ("aisha", "ayesha"), ("zoe", "zoey"), ("sofia", "sophia"), ("kacey", "kacie"),
)

# Names the US table joins that England holds as two names: each of these is ranked on its own among the
# hundred commonest girls' names registered in England and Wales (ONS baby names), so a child registered as
# one is not recorded as the other, and twins are given both. Kept apart however the table links them.
DISTINCT = (("amelia", "emily"), ("emily", "emma"), ("amelia", "emma"))

_APOSTROPHES = re.compile(r"['\u2019`]")
_NOT_LETTER = re.compile(r"[^a-z]+")


@lru_cache(maxsize=1 << 20)
def fold(text: str) -> str:
    """Lower-case ASCII letters and single spaces: accents folded, apostrophes dropped, hyphens spaced.

    "Zoë", "ZOE" and "zoe" are one name; "O'Connor" is "oconnor"; "Smith-Jones" is "smith jones".
    """
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    plain = _APOSTROPHES.sub("", plain)
    return _NOT_LETTER.sub(" ", plain).strip()


def tokens(text: str) -> list[str]:
    """The folded words of a name ("Mary-Jane O'Neill" -> mary, jane, oneill)."""
    return fold(text).split()


@lru_cache(maxsize=1)
def _tables() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """(nicknames of each formal name, formal names of each nickname), from the package and UK_VARIANTS."""
    from nicknames import name_triplets

    nicks: dict[str, set[str]] = defaultdict(set)
    formals: dict[str, set[str]] = defaultdict(set)
    pairs = [(t.name1, t.name2) for t in name_triplets() if t.relationship == "has_nickname"]
    pairs += [(formal, nick) for nick, formal in UK_VARIANTS]
    pairs += [(b, a) for a, b in SPELLINGS] + list(SPELLINGS)
    for formal, nick in pairs:
        formal, nick = fold(formal), fold(nick)
        if formal and nick and formal != nick:
            nicks[formal].add(nick)
            formals[nick].add(formal)
    return ({k: frozenset(v) for k, v in nicks.items()}, {k: frozenset(v) for k, v in formals.items()})


def relatives(name: str) -> frozenset[str]:
    """Names one person called ``name`` may be recorded under: the name, its nicknames, its formal
    names, and the other nicknames of those formal names ("Ellie" and "Nell" are both Eleanor).

    Two names sharing only a nickname are not relatives: "Oliver" and "Olivia" (both "Ollie") are two
    children.
    """
    folded = fold(name)
    if not folded:
        return frozenset()
    nicks, formals = _tables()
    out = {folded} | nicks.get(folded, frozenset()) | formals.get(folded, frozenset())
    for formal in formals.get(folded, frozenset()):
        out |= nicks.get(formal, frozenset())
    return frozenset(out - _distinct_from(folded))


@lru_cache(maxsize=1)
def _distinct() -> dict[str, frozenset[str]]:
    apart: dict[str, set[str]] = defaultdict(set)
    for a, b in DISTINCT:
        apart[a].add(b)
        apart[b].add(a)
    return {k: frozenset(v) for k, v in apart.items()}


def _distinct_from(folded: str) -> frozenset[str]:
    return _distinct().get(folded, frozenset())


def nicknames_of(name: str) -> tuple[str, ...]:
    """The nicknames a person formally called ``name`` may be recorded under, sorted (for the synthetic
    sources: a source writes the name it is told, which is the formal one or a nickname of it)."""
    folded = fold(name)
    return tuple(sorted(_tables()[0].get(folded, frozenset()) - _distinct_from(folded)))


def are_relatives(a: str, b: str) -> bool:
    """Whether two given names may be one person's (see ``relatives``)."""
    fa, fb = fold(a), fold(b)
    return bool(fa) and fb in relatives(fa)
