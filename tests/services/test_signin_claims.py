"""Which identity an ID token names: the number from DEBTBOT_OIDC_ID_CLAIM, the document from
DEBTBOT_OIDC_ID_TYPE_CLAIM (an identity card when that is not set)."""

from __future__ import annotations

import pytest

from debtbot.domain.identifiers import IdType
from debtbot.services.signin import ProviderRefused, _identifier
from debtbot.settings import Settings


def settings(**overrides: str) -> Settings:
    return Settings(oidc_issuer="https://login.example", oidc_client_id="c",
                    oidc_client_secret="s", **overrides)  # type: ignore[arg-type]


def test_the_number_is_an_identity_card_unless_a_document_claim_is_configured():
    found = _identifier(settings(), {"unique_identifier": " 0123-4567 "})
    assert (found.id_type, found.number) == (IdType.ID_CARD, "01234567")


@pytest.mark.parametrize(
    ("named", "number", "kind"),
    [("passport", "K1234567", IdType.PASSPORT), ("ARC", "100234", IdType.ARC),
     ("Identity Card", "881001", IdType.ID_CARD)],
)
def test_a_configured_document_claim_names_the_document(named, number, kind):
    configured = settings(oidc_id_claim="doc_no", oidc_id_type_claim="doc_type")
    assert _identifier(configured, {"doc_no": number, "doc_type": named}).id_type is kind


@pytest.mark.parametrize(
    "claims",
    [{}, {"unique_identifier": ""}, {"unique_identifier": True}, {"unique_identifier": ["1"]},
     {"unique_identifier": "not a number!"}],
)
def test_a_missing_or_unusable_number_is_refused(claims):
    with pytest.raises(ProviderRefused):
        _identifier(settings(), claims)


def test_an_unknown_document_is_refused():
    configured = settings(oidc_id_type_claim="doc_type")
    with pytest.raises(ProviderRefused):
        _identifier(configured, {"unique_identifier": "1234567", "doc_type": "company_reg"})
