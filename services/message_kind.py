"""What a message in the 网上妇女之家 group or a private chat is, before any ranking: danger,
a question for us, chatter, or something else. Pure: no Telegram, no database.

Features
  danger      `services.danger.detect` (present danger in any wording; look-alikes framed away).
  small talk  the whole message is greetings, thanks, reactions, emoji or laughter (`SMALL_TALK`
              pieces cover every character): 你好, 在吗, 谢谢姐, 好的收到, 哈哈哈, 👍.
  topic       how much policy vocabulary the message holds. A word's specificity is how much more
              often the knowledge base uses it than general Chinese does: log(share of the entries'
              fields using it / its share of jieba's general dictionary); a word counts
              min(max(specificity − 5, 0), 3). 离婚, 彩礼, 家庭暴力, 产假 count fully; 一起, 过来,
              工作 not at all. Summed over the message's distinct words (`topic_all`) and without
              everyday words (`EVERYDAY`: 孩子, 老公, 今天 …; `topic_core`); `density` is the share
              of its words that count.
  fit         the FAQ decision for the message: confidence, answer / suggest.
  length      log(1 + characters).
  characters  its character pairs and single characters (几点, 谁家, 要钱, 归谁): the forms of asking and
              the everyday words of chatter that no list keeps up with.
  asks        a question form (？, 吗, 谁, 哪, 多少, 要钱不, 想问 …): kept apart, for chatter vs other.
Decision
  danger      → the danger path, whatever else.
  chatter     small talk.
  question    P(question) from a logistic model over these features (faq_data/question_model.json) at or
              above the chat's threshold (lower in private): unmarked questions (离婚后孩子归谁,
              两岩筛查在哪做要钱不) count; chatter with a question form (明天会下雨吗, 谁家有鸡蛋卖) does not.
              In a private chat a question form with any policy word is a question too.
  chatter     below that, with a question form; other: below that, without one.
The model is fitted on the development message set with balanced classes, and its thresholds chosen
by cross-validation so that at most 3% of group chatter is taken for a question:
`python -m bench.message_kinds --fit`. The held-out figures (messages_test.jsonl) are in docs/benchmarks.md.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal

from services.danger import Danger, asks_to_report, concern, detect, squeeze
from services.faq_engine import ASKS, GENERIC_WORDS, Decision, FaqIndex
from services.learned import LogisticModel, char_grams, shipped

Kind = Literal["danger", "question", "chatter", "other"]
SmallTalk = Literal["greeting", "thanks", "reaction", "announce", "distress"]

QUESTION_MODEL = "question_model.json"
SPECIFIC_FROM = 5.0  # specificity (natural log ratio) from which a word starts to count
SPECIFIC_CAP = 3.0
CACHED_SCOPES = 256  # organisations whose word weights are kept (the deployment-wide scope counts as one)

# Words the knowledge base uses that say nothing about a policy topic on their own.
_EVERYDAY_TEXT = """
    孩子 女儿 儿子 丈夫 妻子 老人 父母 爸爸 妈妈 婆婆 公公 家 家里 家人 村 村里 今天 明天 昨天 今年 去年 时候 钱 天 月 年
    学校 上学 工作 上班 打工 在家 出去 外面 回家 身体 医院 看病 生 生活 结婚 女的 男的 女人 男人 妇女 姐妹 老 小 大
    新 旧 好 坏 多 少 能 办 带 给 找 看 去 来 生孩子 怀孕 家庭 村委会 活动 群 手机 电话 照顾
"""
EVERYDAY: frozenset[str] = frozenset(_EVERYDAY_TEXT.split())

# Pieces a small-talk message is made of (matched on the squeezed text, longest first).
_GREETING = ("你好", "您好", "大家好", "姐妹们好", "在吗", "在不在", "在么", "在嘛", "有人吗", "有人在吗", "有人么", "有人没",
             "早上好", "上午好", "中午好", "下午好", "晚上好", "晚安", "早安", "早", "嗨", "哈喽", "hello", "hi", "喂",
             "你是谁", "你是机器人吗", "你是机器人", "是机器人吗", "机器人", "你是真人吗", "新年好", "过年好", "新年快乐",
             "节日快乐", "中秋快乐", "端午安康", "春节快乐", "妇女节快乐", "三八节快乐", "元旦快乐", "大家", "各位",
             "姐妹们", "姐妹", "姐", "妹", "亲", "老师", "主任", "你", "您", "你叫什么名字", "你叫啥名字", "你叫什么",
             "你叫啥", "你的名字", "叫什么名字", "你几岁了", "你多大了", "你是男的女的", "你会不会回", "看看你会不会回",
             "我就是试试", "试试", "测试", "试一下", "你会说话吗", "你能听懂吗")
_THANKS = ("谢谢", "谢谢你", "谢谢您", "感谢", "多谢", "谢了", "谢啦", "辛苦了", "辛苦", "麻烦了", "太感谢了", "非常感谢",
           "万分感谢", "谢谢啦", "3q", "thanks", "thankyou", "thx")
_REACTION = ("好的", "好", "好滴", "好嘞", "好哒", "收到", "嗯", "嗯嗯", "哦", "噢", "喔", "ok", "okay", "可以", "行", "中",
             "明白", "明白了", "知道了", "晓得了", "懂了", "了解", "哈", "呵", "嘿", "哇", "赞", "棒", "厉害", "是的",
             "对", "对的", "没错", "真的", "真的吗", "是吗", "啊", "呀", "了", "啦", "吧", "呢", "哟", "哎", "唉", "嘻",
             "好呀", "好吧", "好啊", "行吧", "没事", "没关系", "不客气", "来了", "到", "已读", "支持", "同意", "顶",
             "加油", "点赞", "牛", "太好了", "真好", "不错", "一样", "同问", "我也是", "我也", "也", "都", "一起",
             "哈哈", "呵呵", "嘿嘿", "嘻嘻", "666", "88", "拜拜", "再见", "回头见")
# A question announced, not yet asked (我想问个事): she is invited to ask, nothing is passed on yet.
_ANNOUNCE = ("我想问个事", "想问个事", "问个事", "我想问一下", "我想问问", "想问问", "我想咨询一下", "想咨询一下",
             "我想咨询", "咨询一下", "咨询个事", "问个问题", "我想问个问题", "想问个问题", "我有个问题", "有个问题",
             "我有个事", "有个事", "有件事", "我有件事", "请教一下", "我想请教一下", "打扰一下", "打扰了", "能问个事吗",
             "可以问个事吗", "可以问个问题吗", "能问个问题吗", "我有事想问", "有事想问", "我想问", "想问", "问一下",
             "请问", "我想找人说说", "想找人问问")
SMALL_TALK: dict[str, SmallTalk] = {
    **{w: "reaction" for w in _REACTION}, **{w: "greeting" for w in _GREETING}, **{w: "thanks" for w in _THANKS},
    **{w: "announce" for w in _ANNOUNCE},
}
# Distress without a danger signal (我心里很难受 不知道跟谁说): a kind word, 12356, and a person asked
# to look; never an answer picked from the knowledge base.
DISTRESS = re.compile(r"心里(?:很|好|太|特别|真|挺)?(?:难受|难过|憋屈|苦|堵得慌|堵|烦|乱|不好受)|不知道(?:跟|和|找|对)谁说"
                      r"|没(?:有)?人(?:说话|倾诉|可以说|能说|听我说)|委屈死了|憋屈死了|好想哭|想大哭一场|天天哭")
_SMALL_TALK_RE = re.compile("|".join(re.escape(w) for w in sorted(SMALL_TALK, key=len, reverse=True)))

@dataclass(frozen=True, slots=True)
class Reading:
    kind: Kind
    danger: Danger | None = None
    small_talk: SmallTalk | None = None
    topic: float = 0.0
    asks: bool = False
    p: float = 0.0  # P(question)
    concern: bool = False  # not an alarm, but a person should look (services.danger.concern)


def small_talk_of(text: str) -> SmallTalk | None:
    """greeting / thanks / reaction when the whole message is made of such pieces (emoji and
    punctuation count as nothing), else None. Thanks wins over a greeting in the same message."""
    s = squeeze(text)
    if not s:
        return "reaction" if text.strip() else None
    found: set[SmallTalk] = set()
    pos = 0
    for m in _SMALL_TALK_RE.finditer(s):
        if m.start() != pos:
            return None
        found.add(SMALL_TALK[m.group(0)])
        pos = m.end()
    if pos != len(s) and re.fullmatch(r"[哈呵嘿嘻hao6]+", s[pos:]) is None:  # laughter of any length
        return None
    order: tuple[SmallTalk, ...] = ("announce", "thanks", "greeting", "reaction")
    return next((kind for kind in order if kind in found), "reaction")


def asks(text: str) -> bool:
    """Does the message have a question form (marked or unmarked)?"""
    return ASKS.search(squeeze(text) + ("?" if text.rstrip().endswith(("?", "？")) else "")) is not None


class Vocabulary:
    """Specificity of words to the knowledge base an asker of an organisation sees (the deployment-wide
    entries and her organisation's own; see the module docstring). Cached per organisation and word;
    an organisation's cache is dropped whenever its scope changes (`FaqIndex.scope_version`)."""

    def __init__(self, index: FaqIndex) -> None:
        self.index = index
        freq = index.tokenizer.general_freq()
        self._freq = freq
        self._total = float(sum(freq.values()))
        self._caches: OrderedDict[int | None, tuple[tuple[int, int], dict[str, float]]] = OrderedDict()

    def weight(self, token: str, org_id: int | None = None) -> float:
        version = self.index.scope_version(org_id)
        found = self._caches.get(org_id)
        if found is None or found[0] != version:
            found = self._caches[org_id] = (version, {})
            if len(self._caches) > CACHED_SCOPES:
                self._caches.popitem(last=False)
        cache = found[1]
        w = cache.get(token)
        if w is None:
            uses = self.index.field_uses(token, org_id)
            if uses < 2 or len(token) < 2 or token in GENERIC_WORDS:  # one field only: too little to judge
                w = 0.0
            else:
                share = uses / (2 * self.index.scope_size(org_id))
                general = (self._freq.get(token, 0) + 10) / self._total
                w = min(max(math.log(share / general) - SPECIFIC_FROM, 0.0), SPECIFIC_CAP)
            if len(cache) < 200_000:
                cache[token] = w
        return w

    def features(self, tokens: list[str], org_id: int | None = None) -> tuple[float, float, float]:
        """(topic_all, topic_core, density) of a message's tokens, for an asker of `org_id`."""
        distinct = list(dict.fromkeys(tokens))
        every = core = 0.0
        counted = 0
        for token in distinct:
            w = self.weight(token, org_id)
            if w > 0:
                counted += 1
                every += w
                if token not in EVERYDAY:
                    core += w
        return every, core, counted / len(distinct) if distinct else 0.0


def question_features(vocabulary: Vocabulary, text: str, decision: Decision,
                      org_id: int | None = None) -> dict[str, float]:
    every, core, density = vocabulary.features(vocabulary.index.tokenizer.tokens(text), org_id)
    x = char_grams(squeeze(text), (1, 2))
    x.update(topic_all=every, topic_core=core, confidence=min(decision.confidence, 1.5), right=decision.right,
             answer=float(decision.kind == "answer"), suggest=float(decision.kind == "suggest"),
             log_length=math.log1p(len(text)), density=density)
    return x


def question_model() -> LogisticModel:
    model = shipped(QUESTION_MODEL)
    if model is None:
        raise RuntimeError(f"services/faq_data/{QUESTION_MODEL} is missing: python -m bench.message_kinds --fit")
    return model


def question_probability(vocabulary: Vocabulary, text: str, decision: Decision,
                         org_id: int | None = None) -> tuple[float, float]:
    """(P(question), topic_all)."""
    x = question_features(vocabulary, text, decision, org_id)
    return question_model().probability(x), x["topic_all"]


def read(vocabulary: Vocabulary, text: str, decision: Decision | None = None, private: bool = False,
         org_id: int | None = None) -> Reading:
    """What the message is (see the module docstring); `decision` is the FAQ's for the same text, asked
    from `org_id`."""
    danger = detect(text, private)
    if danger is not None:
        return Reading("danger", danger=danger)
    worry = concern(text, private)
    talk = small_talk_of(text)
    if talk is not None:
        return Reading("chatter", small_talk=talk, concern=worry)
    if decision is None:
        decision = vocabulary.index.decide(text, org_id=org_id, private=private)
    if DISTRESS.search(squeeze(text)) is not None and decision.kind == "decline":
        return Reading("chatter", small_talk="distress", concern=True)
    p, topic = question_probability(vocabulary, text, decision, org_id)
    asked = asks(text)
    # In private she wrote to us on purpose: a question form with any policy word is a question too;
    # so is a bystander asking whether to report what she has seen (该不该去反映), in either chat.
    if (p >= question_model().thresholds.get("private" if private else "public", 0.5) or (private and asked and topic > 0)
            or asks_to_report(squeeze(text))):
        return Reading("question", topic=topic, asks=asked, p=p, concern=worry)
    return Reading("chatter" if asked else "other", topic=topic, asks=asked, p=p, concern=worry)

Action = Literal["danger", "answer", "suggest", "suggest_pass", "decline_pass", "small_talk", "not_for_us",
                 "silent", "concern", "suggest_concern", "look"]


def plan(reading: Reading, decision_kind: str | None, private: bool, long_shot: bool = False) -> Action:
    """What the bot does with a message it has read and (for questions) decided on with the FAQ.

    Groups: danger is answered and alerted; questions are answered, suggested, or declined and
    passed on; chatter and everything else get no reply and are never passed on.
    Private (or a message addressed to the bot): greetings and thanks get one friendly line;
    other chatter a line saying what the bot is for; everything else goes through the FAQ
    (a decline is passed on: she wrote to us on purpose). Neither kind of chatter is stored.
    A message of concern (a danger signal short of an alarm) is never left at that: in private she
    gets 110/12338 first and the member on duty is asked to look ("concern"; with the suggestions she
    would have got: "suggest_concern"; a direct answer stays an answer); in a group nothing is said
    there, but the member on duty is asked to look ("look")."""
    if reading.kind == "danger":
        return "danger"
    action = _plan(reading, decision_kind, private, long_shot)
    if reading.concern:
        if private and action in ("suggest", "suggest_pass"):
            return "suggest_concern"
        if private and action in ("not_for_us", "decline_pass", "small_talk"):
            return "concern"
        if not private and action == "silent":
            return "look"
    return action


def also_look(reading: Reading, action: Action, private: bool) -> bool:
    """In a group, a question of concern keeps its reply there, and the member on duty is asked to
    look as well, answered or not (she told the group of a danger to her; a decline is passed on as a
    look, not as a plain question)."""
    return reading.concern and not private and action in ("answer", "decline_pass", "suggest", "suggest_pass")


def _plan(reading: Reading, decision_kind: str | None, private: bool, long_shot: bool) -> Action:
    if reading.kind in ("chatter", "other"):
        if not private:
            return "silent"
        return "small_talk" if reading.small_talk is not None else "not_for_us"
    if decision_kind == "answer":
        return "answer"
    if decision_kind == "suggest":
        return "suggest_pass" if long_shot else "suggest"
    return "decline_pass"


def understand(
    vocabulary: Vocabulary, text: str, org_id: int | None = None, private: bool = False,
) -> tuple[Reading, Decision]:
    """Read a message and take the FAQ decision for it: a message read as a question that the decision
    declines is decided again leniently (candidates offered on a lower bar)."""
    index = vocabulary.index
    decision = index.decide(text, org_id=org_id, private=private)
    reading = read(vocabulary, text, decision, private, org_id)
    if reading.kind == "question" and decision.kind == "decline":
        # A real question: candidates on the lowest bar, and what only that bar lets through (a long
        # shot) also goes to a person (`plan`: "suggest_pass"). In a group too: a declined question
        # gets a reply there and goes to a person anyway, so the long shots cost no extra message.
        decision = index.decide(text, org_id=org_id, private=private, lenient="private")
    return reading, decision
