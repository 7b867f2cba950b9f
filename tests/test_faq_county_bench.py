"""bench/faq_county.py on a small county: it runs end to end (a fresh process loads the database)
and its figures are sane; `summary` gives the two keys bench/scale_bench.py prints."""

from __future__ import annotations

import pytest

from bench import faq_county
from services.faq_engine import get_tokenizer

pytestmark = pytest.mark.e2e


def test_small_county_runs_and_agrees_with_bm25s() -> None:
    result = faq_county.measure(1500, 60)
    assert result.villages >= 20 and result.entries >= 1300
    assert result.tokens_checked[0] == result.tokens_checked[1]  # composed tokens = fresh segmentation
    assert result.ready["resegmented"] == 0 and result.ready["entries"] > result.entries
    assert len(result.whole) == len(result.rank) == len(result.bm25s_rank) == 60
    assert result.hit_ours >= 0.7 and result.agreement >= 0.6
    assert "| whole query p99 ms" in faq_county.report(result)


def test_county_questions_come_from_their_villages() -> None:
    county = faq_county.county(600, get_tokenizer())
    for q in faq_county.questions(county, 50):
        own_ids = {entry_id for entry_id, _ in county.own[q.org_id]}
        assert q.expect and (set(q.expect) <= own_ids or not set(q.expect) & own_ids)


def test_summary_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faq_county, "_LAST", None)
    found = faq_county.summary(1200, 30)
    assert set(found) == {"faq_ready_s_100k", "faq_p99_ms_100k_county"} and all(v > 0 for v in found.values())


def test_the_scale_bench_appends_the_county_figures_as_key_value_pairs(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.faq_county as county
    import bench.scale_bench as scale

    monkeypatch.setattr(county, "summary", lambda: {"faq_ready_s_100k": 2.26, "faq_p99_ms_100k_county": 3.86})
    assert scale.faq_fields() == " faq_ready_s_100k=2.26 faq_p99_ms_100k_county=3.86"
