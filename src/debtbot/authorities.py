"""The authorities that send debts, from the package's `authorities.toml`: their names in
each language, their public offices, telephone and website.

The registry's `authority` value is free text (a code or a name in any language); `find`
matches it against every authority's code, names and aliases, ignoring case, accents and
punctuation. Unknown values are shown as the registry gave them (and counted: see
services.api_status).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

LANGUAGES = ("el", "en", "tr")


@dataclass(frozen=True, slots=True)
class Office:
    place: dict[str, str]
    address: dict[str, str]
    hours: str  # "always" or "mon-fri 07:30-15:00"

    def opening(self) -> tuple[int, int, str, str] | None:
        """(first weekday, last weekday, opens, closes), Monday = 0; None: always open."""
        match = _HOURS.match(self.hours)
        if match is None:
            return None
        return (_DAYS.index(match["first"]), _DAYS.index(match["last"]), match["opens"],
                match["closes"])


@dataclass(frozen=True, slots=True)
class Authority:
    code: str
    names: dict[str, str]
    phone: str
    website: str
    offices: tuple[Office, ...]

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(
    r"^(?P<first>mon|tue|wed|thu|fri|sat|sun)-(?P<last>mon|tue|wed|thu|fri|sat|sun) "
    r"(?P<opens>\d\d:\d\d)-(?P<closes>\d\d:\d\d)$"
)
_NOT_WORD = re.compile(r"[\W_]+")


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", stripped).strip()


def _office(raw: dict[str, object]) -> Office:
    hours = str(raw.get("hours", "always"))
    if hours != "always" and not _HOURS.match(hours):
        raise ValueError(f"authorities.toml: bad hours {hours!r}")
    return Office(dict(raw["place"]), dict(raw["address"]), hours)  # type: ignore[call-overload]


@cache
def all_authorities() -> tuple[Authority, ...]:
    text = resources.files("debtbot").joinpath("authorities.toml").read_text("utf-8")
    found = []
    for raw in tomllib.loads(text)["authority"]:
        names = dict(raw["name"])
        missing = [language for language in LANGUAGES if not names.get(language)]
        if missing:
            raise ValueError(f"authorities.toml: {raw['code']} has no name in {missing}")
        found.append(Authority(
            code=raw["code"], names=names, phone=raw.get("phone", ""),
            website=raw.get("website", ""),
            offices=tuple(_office(office) for office in raw.get("office", [])),
        ))
    return tuple(found)


@cache
def _index() -> dict[str, Authority]:
    index: dict[str, Authority] = {}
    for authority in all_authorities():
        for label in (authority.code, *authority.names.values()):
            index[_key(label)] = authority
    text = resources.files("debtbot").joinpath("authorities.toml").read_text("utf-8")
    for raw in tomllib.loads(text)["authority"]:
        for alias in raw.get("aliases", []):
            index.setdefault(_key(alias), by_code(raw["code"]))  # type: ignore[arg-type]
    return index


def by_code(code: str) -> Authority | None:
    return next((found for found in all_authorities() if found.code == code), None)


@lru_cache(maxsize=1024)
def find(value: str | None) -> Authority | None:
    """The authority the registry's `authority` value names, or None when unknown/empty."""
    if not value:
        return None
    return _index().get(_key(value))


def police() -> Authority:
    found = by_code("police")
    assert found is not None
    return found
