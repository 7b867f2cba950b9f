"""Every shipped entry names its basis and when its facts were checked; the county is reminded once a
year of the deployment-wide entries not checked for more than a year."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from services.faq_engine import load_shipped_entries
from tests.harness import Harness

pytestmark = pytest.mark.unit

COUNTY = 9001  # the demo world's super admin


def test_every_shipped_entry_has_a_source_and_a_check_date() -> None:
    entries = load_shipped_entries()
    assert len(entries) >= 60
    for e in entries:
        assert e.source.strip(), e.id
        assert re.search(r"《[^》]+》|第[一二三四五六七八九十百零0-9]+条|〔\d{4}〕|\d{4}年", e.source), (e.id, e.source)
        checked = date.fromisoformat(e.updated_at)  # raises on a missing or malformed date
        assert date(2020, 1, 1) <= checked <= date(2027, 1, 1), e.id
        assert len(e.questions) >= 2 and len(e.answer) <= 600, e.id


def test_facts_the_audit_found_wrong_stay_right() -> None:
    by_id = {e.id: e for e in load_shipped_entries()}
    assert "强制执行" in by_id["child-support"].answer
    assert "6个月" in by_id["divorce-refused-again"].answer or "六个月" in by_id["divorce-refused-again"].answer
    assert "个人最高可贷20万" in by_id["entrepreneurship-loan"].answer  # the national rule; more is local
    assert "可以" in by_id["dv-shelter"].answer
    assert "身份" in by_id["marital-mediation"].answer
    for new in ("maternal-child-handbook-postnatal-visit", "divorce-registration-materials",
                "left-behind-children-entrusted-care"):
        assert new in by_id


@pytest.mark.handler
async def test_county_is_reminded_yearly_of_entries_not_checked_for_a_year(h: Harness) -> None:
    stale_before = h.services.faq.stale_entries(h.clock.now().date())
    assert stale_before == []  # everything shipped was checked within the year
    h.clock.set(datetime(2028, 1, 3, 0, 30, tzinfo=UTC))  # 08:30 in Shanghai: not yet
    assert not [c for c in await h.tick() if c.chat_id == COUNTY and "年度核对" in c.text]
    h.clock.advance(timedelta(hours=1))
    sent = [c for c in await h.tick() if c.chat_id == COUNTY and "年度核对" in c.text]
    assert len(sent) == 1 and "breastfeeding-time：" in sent[0].text and "还有 36 条" in sent[0].text
    h.clock.advance(timedelta(days=30))
    assert not [c for c in await h.tick() if c.chat_id == COUNTY and "年度核对" in c.text]  # once a year
