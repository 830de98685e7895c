"""Legal bases as data: which instrument, which article, note or annex.

A basis is rendered in the reader's language by `debtbot.texts.legal_basis`; `str(basis)` is
the English citation, for logs, the API and the audit log. Article numbers are kept with
Latin suffix letters (9C, 23A, 111B), the usual transliteration of the Greek ordinals (9Γ,
23Α, 111Β) that a Greek rendering restores.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Instrument(StrEnum):
    # The Regulations of 2021 on the out-of-court settlement of offences, new form Type E
    # (its notes apply to every out-of-court fine notice of the family).
    OUT_OF_COURT_REGULATIONS_2021 = "out_of_court_regulations_2021"
    ROAD_TRANSPORT_LAW_47_2024 = "road_transport_law_47_2024"  # Law 47(I)/2024
    TAX_COLLECTION_LAW = "tax_collection_law"  # Tax Collection Law 1962, consolidated
    CUSTOMS_CODE_94_2004 = "customs_code_94_2004"  # Customs Code Law 94(I)/2004


_ENGLISH = {
    Instrument.OUT_OF_COURT_REGULATIONS_2021: "Regulations 2021, form Type E",
    Instrument.ROAD_TRANSPORT_LAW_47_2024: "Law 47(I)/2024",
    Instrument.TAX_COLLECTION_LAW: "Tax Collection Law",
    Instrument.CUSTOMS_CODE_94_2004: "Customs Code 94(I)/2004",
}


@dataclass(frozen=True, slots=True)
class LegalBasis:
    """An instrument and the provisions cited in it: articles ("23A(6)"), notes of a form
    ("3"), an annex ("II")."""

    instrument: Instrument
    articles: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    annex: str | None = None

    def __str__(self) -> str:
        parts = [_ENGLISH[self.instrument]]
        if self.articles:
            parts.append("art. " + " and ".join(self.articles))
        if self.notes:
            parts.append(("note " if len(self.notes) == 1 else "notes ")
                         + " and ".join(self.notes))
        if self.annex:
            parts.append(f"Annex {self.annex}")
        return ", ".join(parts)


def regulations_note(*notes: str) -> LegalBasis:
    return LegalBasis(Instrument.OUT_OF_COURT_REGULATIONS_2021, notes=notes)


def road_transport_article(*articles: str, annex: str | None = None) -> LegalBasis:
    return LegalBasis(Instrument.ROAD_TRANSPORT_LAW_47_2024, articles=articles, annex=annex)


def tax_article(*articles: str) -> LegalBasis:
    return LegalBasis(Instrument.TAX_COLLECTION_LAW, articles=articles)


def customs_article(*articles: str) -> LegalBasis:
    return LegalBasis(Instrument.CUSTOMS_CODE_94_2004, articles=articles)


@dataclass(frozen=True, slots=True)
class CitationText:
    """A citation given as text in each language (a rule version added from a rules file):
    the reader's language, else English, else Greek."""

    el: str = ""
    en: str = ""
    tr: str = ""

    def __post_init__(self) -> None:
        if not (self.el or self.en):
            raise ValueError("a citation needs its Greek or English text")

    def in_language(self, language: str) -> str:
        return getattr(self, language, "") or self.en or self.el

    def __str__(self) -> str:
        return self.en or self.el


# A rule version added from a file cites its basis as text: shown as given, in the reader's
# language when the file gives it.
Basis = LegalBasis | CitationText | str
