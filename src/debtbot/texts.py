"""Words for the law's nouns, in the reader's language: debt kinds, what a milestone means,
the legal basis. Shared by the chat, reminders, notices and receipts so each is said once.

The milestone kinds mirror debtbot.domain.milestones.MilestoneKind values (strings here, so
this module stays importable beside the domain without depending on its internals).
"""

from __future__ import annotations

from functools import lru_cache

from babel.dates import get_day_names

from debtbot import authorities
from debtbot.domain.legal import (
    Basis,
    CitationText,
    Instrument,
    LegalBasis,
    customs_article,
    regulations_note,
    road_transport_article,
    tax_article,
)
from debtbot.i18n import Translator

# Each is asked for every line of every report; the answer depends only on the language and
# the kind (the catalogs are loaded once), so it is worked out once per pair.


@lru_cache(maxsize=512)
def kind_label(t: Translator, kind: str) -> str:
    labels = {
        "out_of_court_fine": t.pgettext("debt kind", "Out-of-court fine"),
        "fine_warrant": t.pgettext("debt kind", "Fine warrant"),
        "admin_fine": t.pgettext("debt kind", "Administrative fine"),
        "tax": t.pgettext("debt kind", "Tax debt"),
        "customs": t.pgettext("debt kind", "Customs debt"),
    }
    return labels.get(str(kind), str(kind))


@lru_cache(maxsize=512)
def milestone_consequence(t: Translator, milestone_kind: str) -> str:
    """What happens once the milestone's day has passed, as one sentence."""
    sentences = {
        "payable_from": t.gettext("The fine can be paid online from then."),
        "driver_nomination": t.gettext(
            "The period for the registered owner to name the driver ends."
        ),
        "representations": t.gettext("The period for making representations ends."),
        "payment_due": t.gettext("The payment deadline passes."),
        "surcharge": t.gettext("A surcharge is added to the amount."),
        "prosecution": t.gettext(
            "It can no longer be paid out of court and the case goes to criminal prosecution."
        ),
        "court": t.gettext("The authority goes to court to collect it as a civil debt."),
        "offence": t.gettext("Not paying becomes an offence."),
        "forfeiture": t.gettext("Property or goods may be seized and forfeited."),
        "bank_freeze_risk": t.gettext("Bank accounts may be frozen."),
        "property_charge": t.gettext("A charge may be registered on immovable property."),
        "time_bar": t.gettext("Court action to collect it becomes time-barred."),
        "freeze_objection": t.gettext("The period to object to the bank account freeze ends."),
        "forfeiture_objection": t.gettext(
            "The seized property is deemed forfeited unless it was challenged in writing."
        ),
        "property_charge_objection": t.gettext(
            "The period to object to the charge on immovable property ends."
        ),
    }
    return sentences.get(str(milestone_kind), str(milestone_kind))


@lru_cache(maxsize=512)
def milestone_title(t: Translator, milestone_kind: str) -> str:
    """A short label for the milestone, for lists and buttons."""
    titles = {
        "payable_from": t.pgettext("milestone", "Payable online"),
        "driver_nomination": t.pgettext("milestone", "Name the driver"),
        "representations": t.pgettext("milestone", "Representations"),
        "payment_due": t.pgettext("milestone", "Payment deadline"),
        "surcharge": t.pgettext("milestone", "Surcharge"),
        "prosecution": t.pgettext("milestone", "Prosecution"),
        "court": t.pgettext("milestone", "Court"),
        "offence": t.pgettext("milestone", "Offence"),
        "forfeiture": t.pgettext("milestone", "Forfeiture"),
        "bank_freeze_risk": t.pgettext("milestone", "Bank freeze"),
        "property_charge": t.pgettext("milestone", "Charge on property"),
        "time_bar": t.pgettext("milestone", "Time bar"),
        "freeze_objection": t.pgettext("milestone", "Objection to the bank freeze"),
        "forfeiture_objection": t.pgettext("milestone", "Challenge to the forfeiture"),
        "property_charge_objection": t.pgettext("milestone", "Objection to the property charge"),
    }
    return titles.get(str(milestone_kind), str(milestone_kind))


# --- legal bases -------------------------------------------------------------------------

# Greek law numbers its sub-articles and annexes with Greek capitals (9Γ, 23Α, 111Β, ΙΙ);
# the domain keeps the Latin transliteration, a Greek reader gets the law's own letters.
_GREEK_LETTERS = str.maketrans({"A": "Α", "B": "Β", "C": "Γ", "D": "Δ", "E": "Ε", "I": "Ι"})


def _numbering(t: Translator, value: str) -> str:
    return value.translate(_GREEK_LETTERS) if t.language == "el" else value


def _joined(t: Translator, items: tuple[str, ...]) -> str:
    if len(items) == 1:
        return items[0]
    return t.gettext("%(first)s and %(second)s") % {
        "first": ", ".join(items[:-1]), "second": items[-1]
    }


def instrument_name(t: Translator, instrument: str) -> str:
    names = {
        Instrument.OUT_OF_COURT_REGULATIONS_2021: t.pgettext(
            "legal instrument", "Regulations 2021, form Type E"
        ),
        Instrument.ROAD_TRANSPORT_LAW_47_2024: t.pgettext("legal instrument", "Law 47(I)/2024"),
        Instrument.TAX_COLLECTION_LAW: t.pgettext("legal instrument", "Tax Collection Law"),
        Instrument.CUSTOMS_CODE_94_2004: t.pgettext(
            "legal instrument", "Customs Code 94(I)/2004"
        ),
    }
    return names.get(Instrument(instrument), str(instrument))


@lru_cache(maxsize=1024)
def legal_basis(t: Translator, basis: Basis) -> str:
    """The citation in the reader's language: "Κανονισμοί 2021, Έντυπο Τύπου Ε, σημ. 3"."""
    if isinstance(basis, str):  # a rule version from a file, cited as free text
        return basis
    if isinstance(basis, CitationText):  # ... or as text in each language
        return basis.in_language(t.language)
    parts = [instrument_name(t, basis.instrument)]
    if basis.articles:
        articles = tuple(_numbering(t, article) for article in basis.articles)
        parts.append(
            t.ngettext("art. %(articles)s", "art. %(articles)s", len(articles))
            % {"articles": _joined(t, articles)}
        )
    if basis.notes:
        parts.append(
            t.ngettext("note %(notes)s", "notes %(notes)s", len(basis.notes))
            % {"notes": _joined(t, basis.notes)}
        )
    if basis.annex:
        parts.append(t.gettext("Annex %(annex)s") % {"annex": _numbering(t, basis.annex)})
    return ", ".join(parts)


# --- authorities -------------------------------------------------------------------------


def authority_name(t: Translator, value: str) -> str:
    """The authority's name in the reader's language; an unknown one as the registry gave it."""
    found = authorities.find(value)
    return found.name(t.language) if found is not None else value


@lru_cache(maxsize=64)
def opening_hours(t: Translator, hours: str) -> str:
    office = authorities.Office({}, {}, hours)
    opening = office.opening()
    if opening is None:
        return t.gettext("open day and night")
    first, last, opens, closes = opening
    days = get_day_names("wide", locale=t.locale)
    return t.gettext("%(first_day)s to %(last_day)s, %(opens)s–%(closes)s") % {
        "first_day": days[first], "last_day": days[last], "opens": opens, "closes": closes,
    }


# --- what a deadline means, per kind of debt ---------------------------------------------


def deadline_consequence(
    t: Translator, debt_kind: str, milestone_kind: str, *, surcharged: bool = True
) -> str:
    """What happens once the milestone's day has passed, for this kind of debt: the law's
    real consequence (an admin fine's 5-day deadline is followed by court action 30 days
    later, art. 23A(10); a tax's due date by the art. 8(1) surcharge)."""
    kind, milestone = str(debt_kind), str(milestone_kind)
    if kind == "admin_fine" and milestone == "payment_due":
        return t.gettext(
            "The payment period ends. If the fine is still unpaid 30 days later, the Road "
            "Transport Department goes to court to collect it as a civil debt."
        )
    if kind == "admin_fine" and milestone == "court":
        return t.gettext(
            "The Road Transport Department goes to court to collect the fine as a civil debt."
        )
    if kind == "tax" and milestone == "payment_due":
        if surcharged:
            return t.gettext("A surcharge is added to the unpaid amount.")
        return t.gettext("The tax becomes overdue.")
    return milestone_consequence(t, milestone)


def how_to_object(t: Translator, debt_kind: str) -> str:
    """How to object or dispute, for this kind of debt (the basis is cited beside it)."""
    kind = str(debt_kind)
    if kind == "out_of_court_fine":
        return t.gettext(
            "If you were not the driver, send Part II of the notice (a sworn statement naming "
            "the driver) by registered letter within 15 days of receiving the notice. If you "
            "do not accept the offence, do not pay: the case then goes to court, where you can "
            "defend yourself."
        )
    if kind == "fine_warrant":
        return t.gettext(
            "A warrant is a court order. To ask about it or settle it, go to the nearest "
            "police station."
        )
    if kind == "admin_fine":
        return t.gettext(
            "Within 5 working days of the finding notice you can make representations to the "
            "Road Transport Department. Against the fine itself you can send a written "
            "objection to the licensing authority; if it is accepted, the whole fine is "
            "refunded. The fine must be paid within 5 days even while you object."
        )
    if kind == "tax":
        return t.gettext(
            "Once a measure is taken you can object: within 15 days of a bank account freeze, "
            "and within 30 days of a forfeiture or of a charge on immovable property. No such "
            "measure is taken while an objection or appeal is pending or while an instalment "
            "plan is paid on time (except the charge on property)."
        )
    if kind == "customs":
        return t.gettext(
            "You can ask for a review of the decision within 60 days. A review does not stop "
            "the collection of the debt."
        )
    return ""


def objection_bases(debt_kind: str) -> tuple[LegalBasis, ...]:
    """The provisions `how_to_object` rests on."""
    return _OBJECTION_BASES.get(str(debt_kind), ())


_OBJECTION_BASES: dict[str, tuple[LegalBasis, ...]] = {
    "out_of_court_fine": (regulations_note("9", "4"),),
    "admin_fine": (road_transport_article("23A(4)", "23A(6)", "23A(7)", "23A(8)"),),
    "tax": (tax_article("9B(5)", "9C(5)", "9D(4)"),),
    "customs": (customs_article("112"),),
}


def penalty_points(t: Translator, points: int | None) -> str:
    """What paying an out-of-court fine means for penalty points (notes 6 and 8)."""
    if points:
        first = t.ngettext(
            "This fine carries %(n)d penalty point.",
            "This fine carries %(n)d penalty points.",
            points,
        ) % {"n": points}
    else:
        first = t.gettext("Any penalty points this fine carries are recorded when you pay it.")
    return first + " " + t.gettext(
        "Paying accepts the penalty points. If your points reach the legal total, the payment "
        "is refused and the case goes to prosecution."
    )
