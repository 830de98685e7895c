"""Words for the law's nouns, in the reader's language: debt kinds, what a milestone means,
the legal basis. Shared by the chat, reminders, notices and receipts so each is said once.

The milestone kinds mirror debtbot.domain.milestones.MilestoneKind values (strings here, so
this module stays importable beside the domain without depending on its internals).
"""

from __future__ import annotations

from functools import lru_cache

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
