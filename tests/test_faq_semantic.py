"""The sentence encoder behind the FAQ decision (services/faq_semantic.py): real model, no stubs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from services.faq_engine import (
    Entry,
    FaqIndex,
    answer_model,
    answer_model_lexical,
    load_shipped_entries,
    rerank_model_lexical,
)
from services.faq_semantic import SIM_MEAN, SIM_SD, Semantic, get_semantic

pytestmark = pytest.mark.unit


def test_a_question_is_closer_to_the_entry_that_means_it_than_to_one_that_shares_words() -> None:
    s = get_semantic()
    custody = ["离婚了孩子归谁？", "孩子八岁了，自己能选跟谁吗？"]
    support = ["离婚后孩子抚养费给多少？", "前夫不给抚养费怎么办？"]
    assert s.similarity("俺们要离了 娃跟谁过", custody) > s.similarity("俺们要离了 娃跟谁过", support)
    assert s.similarity("他好几个月没给娃的生活费", support) > s.similarity("他好几个月没给娃的生活费", custody)


def test_a_traditional_question_is_embedded_as_the_index_folds_it() -> None:
    index = FaqIndex.build(load_shipped_entries())
    text, _ = index.query_tokens("離婚後孩子歸誰")
    assert get_semantic().similarity(text, ["离婚后孩子归谁"]) > 0.9


def test_vectors_are_unit_length_and_cached_per_text_and_per_phrasing_set() -> None:
    s = Semantic()
    vectors = s.encode(["产假多少天", "两癌筛查免费吗"])
    assert vectors.shape[0] == 2 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert s.query("产假多少天") is s.query("产假多少天")
    first = s.phrasings(("产假多少天", "生孩子休几天"))
    again = s.phrasings(("青石村 生孩子休几天", "生孩子休几天", "产假多少天"))  # a village's copy shares two
    assert np.array_equal(first, again[[2, 1]]) and first.shape[0] == 2 and again.shape[0] == 3
    assert len(s._entries) == 3  # each phrasing embedded once
    assert s.similarity("产假多少天", []) == 0.0


def test_the_encoder_with_remembered_token_rows_gives_the_librarys_vectors() -> None:
    """Alone and in micro-batches, seen tokens and new ones, a text past the library's token budget."""
    from services.faq_semantic import TokenRowEncoder, _load_encoder

    ours = TokenRowEncoder(_load_encoder().model, kept=40)  # small: rows are forgotten and made again
    library = ours.model
    texts = ["离婚冷静期是多久啊", "我老公天天打我我该怎么办", "a", "孩子上学的补贴怎么申请要带什么材料",
             "我在镇上服装厂干了三年。" * 40]
    for batch in (texts, texts[:1], texts[1:3], texts[::-1]):
        got, want = ours.encode(batch), library.encode(batch)
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 1e-5
    assert 0 < len(ours._rows) <= 40


def test_features_say_whether_the_embedding_agrees_with_the_ranking() -> None:
    s = get_semantic()
    right_first = s.features("离婚了孩子归谁", [["离婚了孩子归谁？"], ["产假多少天？"]])
    wrong_first = s.features("离婚了孩子归谁", [["产假多少天？"], ["离婚了孩子归谁？"]])
    assert right_first["emb_agree"] == 1.0 and wrong_first["emb_agree"] == 0.0
    assert right_first["emb_diff"] > 0 > wrong_first["emb_diff"]
    assert s.features("离婚了孩子归谁", []) == {}


def test_the_decision_sees_the_embedding() -> None:
    index = FaqIndex.build(load_shipped_entries())
    text, tokens = index.query_tokens("离婚了娃归谁")
    features = index.fit_features(text, index.search_tokens(tokens, 3), tokens)
    assert {"emb_top1", "emb_top2", "emb_diff", "emb_agree"} <= features.keys()


def test_kept_phrasings_are_not_embedded_again_and_give_the_same_similarity() -> None:
    s = Semantic()
    phrasings = ["离婚后孩子抚养费给多少？", "前夫不给抚养费怎么办？", "青石村的姐妹问：抚养费怎么算"]
    before = s.similarity("他好几个月没给娃的生活费", phrasings)
    fresh = s.phrasings(phrasings)
    other = Semantic()
    assert other.keep(phrasings) == 3 and other.keep(phrasings[:2]) == 0 and other.kept == 3
    kept = other.phrasings(phrasings)
    assert other._entries == {}  # nothing embedded on demand
    assert np.allclose(np.linalg.norm(kept, axis=1), 1.0, atol=1e-5)
    assert float(np.max(np.abs(kept @ fresh.T - fresh @ fresh.T))) < 0.002  # 8 bits move a cosine by little
    assert abs(other.similarity("他好几个月没给娃的生活费", phrasings) - before) < 0.002


def test_an_entrys_rows_are_remembered_until_its_phrasings_are_kept() -> None:
    """An entry's rows are gathered once (each question's candidates are mostly the same entries) and
    equal `phrasings`; `keep` makes them 8-bit rows, and the remembered float rows are forgotten."""
    s = Semantic()
    phrasings = ("离婚后孩子抚养费给多少？", "前夫不给抚养费怎么办？")
    first = s.entry_rows(phrasings)
    assert s.entry_rows(phrasings) is first and np.array_equal(first, s.phrasings(phrasings))
    s.keep(phrasings)
    again = s.entry_rows(phrasings)
    assert again is not first and np.array_equal(again, s.phrasings(phrasings))
    assert float(np.max(np.abs(again - first))) > 0  # the 8-bit rows, not the remembered float ones


async def test_the_background_embedding_keeps_every_phrasing_of_the_base_and_of_each_village(
        tmp_path: Path) -> None:
    from services.clock import SystemClock
    from services.faq import FaqService
    from storage.db import Database

    db = await Database.open(tmp_path / "embed.db")
    try:
        service = FaqService(db, SystemClock())
        await service.load()
        index = service.index
        assert index is not None
        index.add(Entry("own-1", ("青石村妇女之家几点开门",), "每天下午开门。", (), "", "", "2026-11-01", 5))
        semantic = get_semantic()
        await service.embed_all()
        wanted = {q for org in index.organisations() for e in index.entries_of(org) for q in e.questions}
        assert "青石村妇女之家几点开门" in wanted and len(wanted) > 200
        assert all(q in semantic._kept for q in wanted)
        assert await service.embed_all() == 0  # a second run embeds nothing again
    finally:
        get_semantic()._kept.clear()  # the process's encoder: other tests see it as it was
        get_semantic()._matrices.clear()
        await db.close()


def test_a_message_with_several_questions_goes_through_the_encoder_once() -> None:
    index = FaqIndex.build(load_shipped_entries())
    s = get_semantic()
    s.warm()
    calls: list[int] = []
    encode = s.encode

    def counted(texts: list[str]) -> object:
        calls.append(len(texts))
        return encode(texts)

    s.phrasings([q for e in index.entries() for q in e.questions])  # the entries' side, cached beforehand
    s._queries.clear()
    s.encode = counted  # type: ignore[method-assign, assignment]
    message = "他出轨了，离婚能要赔偿吗？我在家带了十年娃，还能不能再要点家务补偿"
    try:
        decision = index.decide(message, always_encode=True)
        assert len(calls) == 1 and calls[0] >= 3  # the message and its questions together
        calls.clear()
        s._queries.clear()
        index._lexical_seen.clear()
        again = index.decide(message)  # only those the lexical models are not sure of, still in one call
    finally:
        del s.encode
    assert decision.kind in ("answer", "suggest") and again.kind in ("answer", "suggest")
    assert len(calls) <= 1


def test_a_question_like_one_the_base_does_not_answer_is_seen_as_such(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import services.faq_semantic as semantic

    listed = tmp_path / "not_covered.jsonl"
    listed.write_text('{"q": "房产证上加我的名字要交多少税", "from": "dev"}\n'
                      '{"q": "打完疫苗胳膊又肿又疼正常吗", "from": "dev2"}\n', encoding="utf-8")
    monkeypatch.setattr(semantic, "NOT_COVERED", listed)
    s = Semantic()
    near = s.not_covered("房本上加我名字得交啥税")
    assert near > s.not_covered("离婚了孩子归谁") + 0.1
    token = semantic.NOT_COVERED_LEFT_OUT.set("dev")  # fitting: the set's own near misses left out
    try:
        assert s.not_covered("房本上加我名字得交啥税") < near
    finally:
        semantic.NOT_COVERED_LEFT_OUT.reset(token)
    features = s.features("房本上加我名字得交啥税", [["夫妻共同财产怎么分？"]])
    assert features["uncovered_gap"] == pytest.approx(features["uncovered"] - features["emb_top1"])
    monkeypatch.setattr(semantic, "NOT_COVERED", tmp_path / "none.jsonl")
    assert Semantic().not_covered("房本上加我名字得交啥税") == 0.0  # no list: nothing known


def test_the_shipped_not_covered_list_holds_only_development_questions() -> None:
    """Its questions are the development sets' near misses, each from the set it names, never taken from
    a set the bars are chosen on or the held-out set (a short one such as 低保标准 may be written by
    writers of both, independently)."""
    import json

    from bench.faq_quality import DEVELOPMENT, load_set
    from services.faq_semantic import NOT_COVERED

    lines = [json.loads(line) for line in NOT_COVERED.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(lines) >= 300 and {line["from"] for line in lines} <= set(DEVELOPMENT)
    near_misses = {name: {row.q for row in load_set(name)[0] if row.kind == "near_miss"} for name in DEVELOPMENT}
    assert all(line["q"] in near_misses[line["from"]] for line in lines)


def test_closeness_to_an_uncovered_question_is_kept_apart_for_a_village_entry() -> None:
    """The list holds questions the shipped base does not answer; a village's own entry may answer one."""
    own = Entry.from_dict({"id": "org-1", "questions": ["本镇今年两癌筛查是哪天？"],
                           "answer": "5月12日在镇卫生院。"}, org_id=7)
    index = FaqIndex.build([*load_shipped_entries(), own])
    for org_id, want_own in ((7, True), (None, False)):
        text, tokens = index.query_tokens("今年镇上查两癌是几号", org_id)
        candidates = index.ranked(text, tokens, 3, org_id)
        features = index.fit_features(text, candidates, tokens, org_id)
        assert (candidates[0].org_id is not None) is want_own
        kept, other = ("uncovered_own", "uncovered") if want_own else ("uncovered", "uncovered_own")
        assert features[other] == 0.0 and features["uncovered_gap" + kept.removeprefix("uncovered")] != 0.0
        assert features[kept] == pytest.approx((get_semantic().not_covered(text) - SIM_MEAN) / SIM_SD)


def test_closeness_in_characters_to_an_uncovered_question_needs_no_encoder() -> None:
    """The lexical decision's twin of the encoder's closeness: character pairs shared with a question the
    base does not answer, alone and against the first entry's; a development set's own near misses are
    left out while it is fitted; kept apart for a village's own entry."""
    import json

    from services.faq_engine import _uncovered_chars
    from services.faq_semantic import NOT_COVERED, NOT_COVERED_LEFT_OUT

    line = json.loads(NOT_COVERED.read_text(encoding="utf-8").splitlines()[0])
    index = FaqIndex.build(load_shipped_entries())
    text, _ = index.query_tokens(line["q"])
    near = _uncovered_chars(text, 0.2, own=False)
    assert near["uncovered_chars"] == pytest.approx(1.0) and near["uncovered_chars_gap"] == pytest.approx(0.8)
    assert near["uncovered_chars_own"] == 0.0
    covered_text, _ = index.query_tokens("离婚冷静期是多少天")
    assert _uncovered_chars(covered_text, 0.9, own=False)["uncovered_chars"] < 0.9
    token = NOT_COVERED_LEFT_OUT.set(line["from"])
    try:
        assert _uncovered_chars(text, 0.2, own=True)["uncovered_chars_own"] <= near["uncovered_chars"]
    finally:
        NOT_COVERED_LEFT_OUT.reset(token)


class _CountedEncoder:
    """Counts the encoder's calls (texts per call) on the process's one encoder, the entries' side cached."""

    def __init__(self, index: FaqIndex) -> None:
        self.semantic = get_semantic()
        self.semantic.warm()
        self.semantic.phrasings([q for e in index.entries() for q in e.questions])
        self.calls: list[int] = []

    def __enter__(self) -> list[int]:
        encode = self.semantic.encode

        def counted(texts: list[str]) -> object:
            self.calls.append(len(texts))
            return encode(texts)

        self.semantic._queries.clear()
        self.semantic.encode = counted  # type: ignore[method-assign, assignment]
        return self.calls

    def __exit__(self, *exc: object) -> None:
        del self.semantic.encode


def test_the_lexical_models_ship_with_bars_that_keep_the_whole_decisions() -> None:
    lexical, whole = answer_model_lexical(), answer_model()
    assert lexical is not None and rerank_model_lexical() is not None
    assert lexical.thresholds["sure_answer"] >= whole.thresholds["answer"]
    for bar in ("suggest", "suggest_lenient"):  # under each suggestion bar (never in a private chat)
        assert 0.0 <= lexical.thresholds[bar.replace("suggest", "sure_decline")] < whole.thresholds[bar]
    encoders = {"uncovered", "uncovered_gap", "uncovered_own", "uncovered_gap_own"}  # the encoder's closeness
    assert not any(name.startswith("emb") or name in encoders for name in lexical.weights)  # no encoder in them


def test_a_question_the_lexical_models_are_sure_of_skips_the_encoder() -> None:
    index = FaqIndex.build(load_shipped_entries())
    entry = next(e for e in index.entries() if e.id == "divorce-cooling-off")
    with _CountedEncoder(index) as calls:
        decision = index.decide(entry.questions[0])
        chatter = index.decide("今天天气真好 大家吃了吗")
    assert decision.kind == "answer" and decision.best is not None and decision.best.id == entry.id
    assert chatter.kind == "decline"
    assert calls == []
    # the whole decision (the encoder always) sees the encoder and agrees
    with _CountedEncoder(index) as calls:
        whole = index.decide(entry.questions[0], always_encode=True)
    assert whole.kind == "answer" and whole.best is not None and whole.best.id == entry.id and calls == [1]
