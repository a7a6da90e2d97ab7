"""Container names: checked like dockerd's, generated like its ``adjective_surname``."""

from __future__ import annotations

import re
import secrets

from dockyard.errors import InvalidArgument

VALID = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
ADJECTIVES = (
    "admiring", "agitated", "amazing", "awesome", "blissful", "bold", "brave", "busy",
    "charming", "clever", "compassionate", "confident", "cool", "dazzling", "determined",
    "eager", "ecstatic", "elastic", "elegant", "epic", "festive", "focused", "friendly",
    "funny", "gallant", "gifted", "gracious", "happy", "hopeful", "inspiring", "jolly",
    "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "nice", "nifty",
    "nostalgic", "optimistic", "peaceful", "pensive", "practical", "quirky", "relaxed",
    "serene", "sharp", "silly", "stoic", "sweet", "tender", "trusting", "upbeat", "vibrant",
    "wizardly", "wonderful", "youthful", "zealous", "zen",
)  # fmt: skip
SURNAMES = (
    "agnesi", "albattani", "allen", "archimedes", "babbage", "bardeen", "bartik", "bell",
    "blackwell", "bohr", "booth", "borg", "cannon", "carson", "curie", "darwin", "dijkstra",
    "einstein", "euclid", "euler", "faraday", "fermat", "fermi", "feynman", "galileo",
    "gauss", "goldberg", "goodall", "hamilton", "hawking", "heisenberg", "hopper", "hypatia",
    "johnson", "kepler", "knuth", "lamarr", "leakey", "lovelace", "mayer", "mccarthy",
    "meitner", "newton", "noether", "pascal", "perlman", "pike", "poincare", "ritchie",
    "shannon", "sinoussi", "tesla", "thompson", "torvalds", "turing", "wilson", "wozniak",
    "wright", "yalow", "yonath",
)  # fmt: skip


def check_name(name: str) -> str:
    """``name`` with its leading slash, or InvalidArgument."""
    if not VALID.match(name):
        raise InvalidArgument(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name if name.startswith("/") else "/" + name


def generate(retry: int = 0) -> str:
    name = f"{secrets.choice(ADJECTIVES)}_{secrets.choice(SURNAMES)}"
    if retry:
        name += str(secrets.randbelow(10))
    return "/" + name
