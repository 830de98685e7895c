"""The delivery CSV: a spreadsheet never runs a cell as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from debtbot.services.delivery import messages_csv, safe_cell
from debtbot.store.staff import MessageRow


def test_cells_that_start_a_formula_are_escaped() -> None:
    for dangerous in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(dangerous) == "'" + dangerous
    assert safe_cell("Forbidden: bot was blocked") == "Forbidden: bot was blocked"
    assert safe_cell(None) == "" and safe_cell(42) == "42"


def test_the_csv_has_a_bom_a_header_and_escaped_reasons() -> None:
    row = MessageRow(id=1, chat_id=7, purpose="notice", status="failed", attempts=6,
                     last_error='=HYPERLINK("http://x")', created_at=datetime(2026, 12, 1, tzinfo=UTC),
                     sent_at=None, broadcast_id=None, dedupe_key="notice:k:7")
    text = messages_csv([row])
    assert text.startswith("\ufeffmessage,chat_id,kind,state,")
    [parsed] = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert parsed["reason"] == '\'=HYPERLINK("http://x")'
    assert parsed["state"] == "failed" and parsed["queued_at"] == "2026-12-01T00:00:00+00:00"
