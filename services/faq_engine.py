"""Policy-FAQ retrieval engine: normalise → segment → synonyms → BM25 → decision.

Pure module: no Telegram, no database. One `Tokenizer` per process (`get_tokenizer()`: jieba's
dictionary is loaded eagerly, ~0.8 s, at start-up, never lazily on the first question); one `FaqIndex`
per deployment holding the shipped entries and every organisation's own entries.

Text
  `normalise`: NFKC (full/half width), Traditional → Simplified (OpenCC t2s), lower case, anything not
  a letter/digit/CJK character → one space, chatter removed (`FILLERS`), dialect mapped (`DIALECT`).
  `Tokenizer`: jieba (own instance, HMM off: with HMM on, unknown runs become junk words like 娃能 or
  能办 that match nothing) with the shipped domain dictionary; every synonym is a jieba word too, and
  each token is mapped to its group's canonical form (保户令 → 人身安全保护令, 两岩 → 两癌, 打老婆 →
  家庭暴力); an age (19岁, 十九周岁) becomes 年龄; stop words (`STOP_WORDS`) are dropped. A token longer
  than two characters also yields its dictionary sub-words, like `lcut_for_search` (人身安全保护令 →
  人身, 安全, 保护; 两癌筛查 → 两癌, 筛查), so a question naming part of a term still meets it.
  Plain `lcut_for_search` splits before synonyms apply (保户令 never becomes the canonical term), and
  character bigrams match noise. Eval-set hit@1 at each variant's best suggest threshold with
  decline ≥ 0.9 (`python -m bench.faq_quality --compare`): cut 0.971, lcut_for_search 0.980,
  cut + sub-words 0.988, + character bigrams 0.844.

Ranking
  BM25 (Lucene idf `ln(1 + (N − df + .5) / (df + .5))`), k1 = 1.2, over two fields, each with its own
  df and avgdl: questions + tags (b = 0.5: an entry with more phrasings is longer for a good reason; a
  tag word counts half a question word) and the answer (b = 0.75, weight `ANSWER_WEIGHT` = 0.25).
  Without the answer, questions that use the answer's words miss (银行流水, 酒席): hit@1 / decline
  0.963 / 0.938 (best 0.975); at weight 1 the answers' incidental words pull off-topic questions in:
  0.975 / 0.917; at 0.25: 0.988 / 0.938.
  Term frequencies and lengths are integer units, so an index kept up to date by add / update /
  remove scores bit-for-bit like a fresh build of the same entries.

  Inverted index, per part: token id → (slot array, tf array) per field (`array.array`, 6 bytes a
  posting); each entry's token ids are packed in one int array. A query reads only the postings of
  its own tokens in its scope's two parts: per (scope, token) a cached vector of BM25 contributions
  (both fields, idf included; LRU, at most `CACHE_POSTINGS` elements, dropped when the scope changes,
  the deployment-wide ones' biggest pre-computed by `warm`), summed with one `bincount` per part,
  each slot's sum in the same order as ever; the top k are picked without sorting all documents.
  The vectors a question needs and the cache lacks are worked out together: their postings gathered
  into one array per part and scored in one numpy pass (the same floats as one token at a time), so
  a cold question costs a few numpy calls per part, not a dozen per token.

  Stored tokens: `doc_tokens` (each phrasing, the tags, the answer) are stored with each entry
  together with `fingerprint` (the tokenizer's signature: dictionary, synonyms, word lists,
  `NORMALISE_VERSION`, jieba / OpenCC / Unicode versions), so a start re-segments nothing unless
  the segmentation changed (services/faq.py `FaqService.load`).

Organisations
  Entries carry `org_id` (None = deployment-wide). The index is kept in parts: the deployment-wide
  entries, and each organisation's own. A search for an organisation ranks the deployment-wide entries
  and that organisation's entries together (exact top k), the organisation's counting `ORG_BOOST`
  times; an organisation's entry with the id of a deployment-wide entry replaces it for that
  organisation; other organisations' entries are never returned. N, df and avgdl are those of the
  asker's scope: the deployment-wide part (an entry the organisation replaced still counts) plus the
  organisation's part; so are the words known and heard by sound. What other organisations write
  changes neither an organisation's answers nor its cached figures (score vectors, idf, word weights
  are cached per scope and dropped only when the scope changes; a deployment-wide change drops all).
  An organisation's stored entries can be deferred (`defer`): read and indexed on first use.

Sound-alikes (`FaqIndex.sound_alikes`)
  A question's tokens are joined by the indexed words its text writes with other characters of the
  same sound (性扫扰 → 性骚扰, 怀运 → 怀孕) or in pinyin (shengyu jintie → 生育津贴): fuzzy pinyin keys
  (`sound_key`, merged zh/z, ch/c, sh/s, ing/in, eng/en, ang/an, l/n) of every indexed word and
  synonym variant; only windows no indexed word covers, that are no real word themselves and that
  do not cut through one. Where a window is exactly one word of our entries' questions in sound (no
  fuzzy merge; a word's readings: as a word and each character alone, 重婚 chong/zhong hun), keeps
  its numbers and holds no character that is a word of its own (能|贷, 我|嫁), the text itself is
  written with that word (两爱筛查 → 两癌筛查, 重昏 → 重婚): the encoder and the shared-character
  features read the question as meant, not only the ranking.

Decision (`FaqIndex.decide`)
  right = P(the top entry answers the question), a logistic model (`answer_model`, fitted by
  `python -m bench.faq_quality --fit` on tests/data/faq_dev.jsonl) over `fit_features`: the share
  of the question's in-domain words (idf) the entry holds, confidence (top score / Σ idf of the
  question's words), coverage (the same over the words the base knows), margin over the second,
  how much of the entry's closest phrasing the question covers and vice versa, character-pair
  similarity to that phrasing, the score, the number of words.
    danger   present danger (`services.danger.detect`), whatever the score. Violence now
             (正在打我, 要杀 …) is ranked as if the question also said 家庭暴力, so the help entries
             come with the alarm; self-harm (想不开 …) carries an entry only if one really matches.
    decline  the top entry shares no topic word with the question (only `GENERIC_WORDS` such as 申请,
             免费, 多少: 护照怎么办理), or right < the "suggest" threshold ("suggest_lenient" for a
             message already read as a question, "suggest_private" for one in a private chat; what
             is offered below "suggest_lenient" is a long shot and goes to a person as well); no
             candidates are offered.
    answer   right ≥ the "answer" threshold, or the question is one of the entry's own phrasings. A
             question of one word (sub-words aside) is answered only where no other entry of the scope
             has that word in its questions: 12338 or 法定婚龄 names an entry, 离婚 or 彩礼 does not.
    suggest  otherwise ("您是不是想问", up to three candidates).
  Thresholds from out-of-fold probabilities on the development set (see bench/faq_quality.py):
  answer where direct answers stay ≥ 97% right with ≤ 3% of near misses answered; suggest where
  right suggestions minus half the near misses offered is highest. Held-out figures: docs/benchmarks.md.
"""

from __future__ import annotations

import array
import copy
import dataclasses
import hashlib
import importlib.metadata
import importlib.resources
import json
import logging
import math
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import jieba
import numpy as np
import numpy.typing as npt
from pypinyin import lazy_pinyin
from pypinyin.core import Pinyin

from services.danger import Danger, detect, fold, squeeze
from services.faq_semantic import SIM_MEAN, SIM_SD, get_semantic
from services.learned import LogisticModel, shipped, sigmoid

__all__ = [
    "Candidate",
    "Decision",
    "DocTokens",
    "Entry",
    "FaqIndex",
    "Tokenizer",
    "find_danger",
    "get_tokenizer",
    "load_shipped_entries",
    "normalise",
]

# --- tunables (see the module docstring) -----------------------------------------------------------

K1 = 1.2
B_QUESTIONS = 0.5
B_ANSWER = 0.75
ANSWER_WEIGHT = 0.25  # the answer field's share of a match; 0 = answers not indexed
UNIT = 2  # integer units per word occurrence; tf = units / UNIT
QUESTION_UNITS = 2  # a question word counts once
TAG_UNITS = 1  # a tag word counts half

# An organisation's own entry counts this much more than a deployment-wide one in its own chats: its
# chair wrote it for this village (dev set: own entries first 27 → 32 of 40 from 1.0 to 1.2, shipped
# questions lost to an own entry 4 → 7 of 526; at 1.35, 35 of 40 but 23 lost).
ORG_BOOST = 1.2
# A question after a local detail (when, where, which bank, a phone number) is what an organisation's
# own entries hold and the shipped ones cannot: there they count for more (chosen on the development
# set's own-entry questions: 80% → 90% first, the other questions' ranking unchanged).
ORG_BOOST_LOCAL = 1.5
# The decision re-ranks BM25's first RERANK_K with `rerank_model` (coverage, characters, the sentence
# encoder): the right entry is among BM25's first 8 for 98% of development questions, first for 90%.
# Five put as many first out of fold, but the county bench's p99 did not move with the re-ranking off.
RERANK_K = 8
# An organisation's own entry wins the re-ranking by this much (log-odds) on top of what the re-ranking
# learnt for own entries (its `own`, `own_local` weights): a village's entry has one phrasing as a chair
# wrote it, a shipped one a dozen written for village speech, so the closeness features favour the
# shipped one. 0–4 tried on the four fitted sets: 3 puts 140 of their 160 own-entry questions first
# (1: 132) with as many questions first overall.
OWN_LOGIT = 3.0
OWN_LOGIT_LOCAL = 4.0  # after a local detail (LOCAL_ASK_WORDS)
LOCAL_DETAIL_WORDS = frozenset({"哪里", "几号", "几点", "哪天", "电话", "地址", "开门", "有人", "村里", "镇上", "镇",
                                "村委会", "礼拜天", "周末", "星期", "时间", "地方", "本村", "本县", "本镇", "本乡"})
# A question after a detail only the village knows (a date, a place, this year's quota): what a
# village's own entry may hold and a shipped entry never does (decision features local_own/local_shipped).
LOCAL_ASK_WORDS = frozenset({"几号", "几点", "哪天", "地址", "开门", "镇上", "镇", "村委会", "礼拜天", "周末", "星期",
                             "县里", "乡", "乡里", "今年", "去年", "截止", "名额", "几楼", "剩", "主任", "村妇联",
                             "楼上", "村头", "本村", "本县", "本镇", "本乡", "值班", "礼拜"})
# Who in the village (挨打了找村里谁, 村里谁能帮忙): a person only her village's own entry can name.
VILLAGE_WORDS = frozenset({"村里", "本村", "村上"})
WHO_WORDS = frozenset({"谁", "哪位"})
# 今年 of her age (今年五十八了还能查吗) asks after no local detail.
THIS_YEAR_OF_AGE = re.compile(r"今年\s*[0-9一二三四五六七八九十几]+\s*(?:岁|周岁|了)")
# An organisation's own entry is the village's version of the shipped entry its question is ranked to
# at least this likely (本镇2025年两癌免费筛查 → two-cancers-screening at 0.92–0.98; a children's home
# → the women's home at 0.66–0.89, a skills class → the women's home at 0.79–0.89: the development
# sets' 140 own entries).
TWIN_LIKELY = 0.9
DV_HELP_ENTRY = "dv-where-to-get-help"  # where to turn, shown under the alarm for violence
VIOLENCE_CATEGORIES = frozenset({"violence", "weapon", "locked_in", "threat", "child"})  # services.danger


def twin_bar(entry_id: str) -> float:
    """How likely a village's entry must be ranked to the deployment-wide `entry_id` to be shown as its
    version: any for where to turn for violence (a village's people and phones are reliably found, last
    stop's 34 villages), TWIN_LIKELY for another matter."""
    return 0.0 if entry_id == DV_HELP_ENTRY else TWIN_LIKELY

CACHE_POSTINGS = 2_000_000  # per-token score vectors kept between queries (12 bytes each)
READ_KEPT = 256  # questions whose tokens are remembered (`query_tokens`)
TWINS_KEPT = 8192  # own entries whose deployment-wide twin is remembered (`FaqIndex.twin`): 2–8 ms each
SOUND_WORDS = 4  # indexed words a sound key stands for (`FaqIndex.sound_alikes`)
PART_SOUND_WORDS = 8  # kept per part, before the parts of a scope are merged

# Chatter that says nothing about the question, removed as substrings (longest first). Every item
# must be safe to delete anywhere.
FILLERS: tuple[str, ...] = (
    "请问一下", "请问", "想问一下", "想问问", "问一下", "俺想问下", "我想问下", "想问下", "问下", "俺想问", "我想问",
    "想请教", "请教一下", "咨询一下", "姐妹们", "姐妹", "大家好", "你好", "您好", "谢谢", "有谁知道", "谁知道",
    "俺想知道", "我想知道", "想了解一下", "咋回事", "怎么回事", "麻烦", "急急急", "在线等", "哎古",
)

# Dialect → standard, applied to the text before segmentation (longest first). Word-level variants
# (娃 → 孩子, 老公 → 丈夫) live in synonyms.tsv, where they apply to whole tokens only.
DIALECT: tuple[tuple[str, str], ...] = (
    ("咋整", "怎么办"), ("咋办", "怎么办"), ("咋弄", "怎么办"), ("咋样", "怎么样"), ("咋", "怎么"),
    ("干嘛", "干什么"), ("干啥", "干什么"), ("啥", "什么"), ("甚么", "什么"), ("俺们", "我们"), ("俺", "我"),
    ("咱们", "我们"), ("木有", "没有"), ("莫得", "没有"), ("晓得", "知道"),
    # 东北, 西南, 湘, 粤 (whole words only where a character alone means other things: 削苹果, 唔该)
    ("嘎哈", "干什么"), ("干哈", "干什么"), ("削俺", "打我"), ("削我", "打我"), ("啥子", "什么"), ("么子", "什么"),
    ("咋个", "怎么"), ("屋头", "家里"), ("冇得", "没有"), ("冇", "没有"), ("系咪", "是不是"), ("使唔使", "用不用"),
    ("唔使", "不用"), ("点样", "怎么样"), ("边度", "哪里"), ("乜嘢", "什么"), ("佢", "他"), ("俾", "给"),
    # 吴 (阿拉 我, 屋里厢 家里, 铜钿 钱, 号头 月, 肚皮里有小人 怀孕) and 湘 (爷老子 父亲, 毛毛 a baby)
    ("阿拉", "我"), ("屋里厢", "家里"), ("县里厢", "县里"), ("哪能", "怎么"), ("交关", "很多"), ("铜钿", "钱"),
    ("格个", "这个"), ("格种", "这种"), ("啥个", "什么"), ("勿要", "不要"), ("号头", "月"), ("听讲", "听说"),
    ("肚皮里有小人", "怀孕"), ("怀咯毛毛", "怀孕"), ("怀了毛毛", "怀孕"), ("困觉", "睡觉"), ("爷老子", "父亲"),
    ("吃了酒", "喝了酒"), ("吃醉了", "喝醉了"), ("咯边", "这边"), ("咯里", "这里"), ("离咯婚", "离了婚"),
    # 北方: 夜来 yesterday, 恁 you, 黑夜里 at night, 中不中 all right?
    ("夜来", "昨天"), ("黑夜里", "晚上"), ("中不中", "行不行"), ("前头那口子", "前夫"),
    # typos no sound reading mends (调节 and 同局 are words of their own; 侓 and 帖 read alike)
    ("侓", "律"), ("同局", "同居"), ("陪偿", "赔偿"), ("陪钱", "赔钱"), ("陪我钱", "赔我钱"), ("调节", "调解"),
    ("二台", "二胎"), ("三台", "三胎"),
    # let go without the word 辞退 (被老板炒了; 让我明天别来了: `_LET_GO`)
    ("老板炒了", "老板辞退了"), ("被炒了", "被辞退了"), ("炒我鱿鱼", "辞退我"),
    # pregnant without the word (刚查出来有了)
    ("查出来有了", "查出怀孕了"), ("有喜了", "怀孕了"), ("有身子了", "怀孕了"),
    # 吴 两家头 a couple, 吵相骂 quarrelling; 粤 得唔得 all right?, 我个女 my daughter
    ("两家头", "两口子"), ("吵相骂", "吵架"), ("过勿下去", "过不下去"), ("得唔得", "行不行"), ("我个女", "我女儿"),
    # 粤 嗌交 quarrelling, 成日 all day, 做嘢 working, 几多 how many, 生BB giving birth; 吴 小囡 a child,
    # 勿满 under, 辰光 time, 好托伐 can (she) be looked after
    ("嗌交", "吵架"), ("成日", "天天"), ("做嘢", "上班"), ("几多", "多少"), ("生bb", "生孩子"), ("小囡", "孩子"),
    ("勿满", "不满"), ("辰光", "时候"), ("好托伐", "能托吗"),
    # 粤 揾 (搵) to find a person (not 揾钱, earning); 吴 / 湘 / 赣 寻 to find a person (头一个该寻谁)
    ("揾人", "找人"), ("揾边个", "找谁"), ("揾妇联", "找妇联"), ("寻谁", "找谁"), ("寻哪个", "找谁"), ("寻人", "找人"),
    ("搵人", "找人"), ("搵边个", "找谁"), ("搵妇联", "找妇联"),
    # 西南 起 after a verb (写起, 跟起我走, 守起: -ing) and 滴 for 的 (男滴); 粤 话 for 说 (老公话)
    ("写起", "写着"), ("跟起", "跟着"), ("守起", "守着"), ("男滴", "男的"), ("女滴", "女的"), ("老公话", "老公说"),
    # 吴 啥人 who, 伊拉 they; 东北 削人 hitting (not 削苹果), 屯子 a village, 老娘们儿 women; 延边's Korean
    # loanwords 男便 husband, 哈拉莫尼 grandmother
    ("寻啥人", "找谁"), ("啥人", "谁"), ("伊拉", "他们"), ("削人", "打人"), ("屯子里", "村里"), ("屯子", "村子"),
    ("屯里", "村里"), ("老娘们儿", "妇女"), ("男便", "丈夫"), ("哈拉莫尼", "奶奶"), ("村里头", "村里"),
    ("头一个", "首先"), ("第一个要", "首先要"),
    # 河南 (set QQ): 搁 in / at (not 搁置), 哩 for 的, 木人 nobody, 当家哩 husband, 夜儿 yesterday,
    # 能中 all right? (卷铺盖走人, let go: `_LET_GO`)
    ("搁哪", "在哪"), ("搁家", "在家"), ("哩", "的"), ("木人", "没人"),
    # 吴 哪能 is how, but 在哪能 / 去哪能 / 搁哪能 ask where one can
    ("在哪能", "在哪里能"), ("去哪能", "去哪里能"), ("到哪能", "到哪里能"), ("搁哪能", "在哪里能"),
    ("掌柜哩", "丈夫"), ("夜儿黑", "昨晚"), ("夜儿个", "昨天"), ("能中", "能行"),
    # 桂柳 / 西南 (set QQ): 得不得 may (I)?, 怀崽 pregnant, 着 for 被 before a beating, 哪点 where,
    # 哪样 what, 妹仔 a daughter
    ("得不得", "能不能"), ("怀崽", "怀孕"), ("着老倌打", "被丈夫打"), ("着男人打", "被丈夫打"), ("着他打", "被他打"),
    ("去哪点", "去哪里"), ("在哪点", "在哪里"), ("哪样东西", "什么东西"), ("做哪样", "干什么"), ("妹仔", "女儿"),
    ("现里", "县里"),
)
# "Our village" as a woman says it (咱村, 俺们村里) is what a chair writes in an own entry (本村)
OUR_PLACE: dict[str, tuple[str, ...]] = {
    "本村": ("咱村", "俺村", "我村", "我们村", "咱们村", "俺们村", "阿拉村",
             "咱村里", "俺村里", "我们村里", "咱们村里", "俺们村里", "阿拉村里", "咱屯子", "俺屯子", "咱们屯子",
             "咱屯", "俺屯", "我们屯", "咱们屯"),
    "本县": ("咱县", "俺县", "我们县", "咱们县"),
    "本区": ("咱区", "俺区", "我们区", "咱们区", "阿拉区"),
    "本镇": ("咱镇", "俺镇", "我们镇", "咱们镇"),
    "本乡": ("咱乡", "我们乡"),
}
DIALECT += tuple((said, written) for written, ways in OUR_PLACE.items() for said in ways)

# Function words, pronouns, generic verbs and question words that say nothing about the topic. Words
# that carry the question's intent (多久, 多少, 几, 哪里, 免费, 申请) are kept.
_STOP_TEXT = """
    的 了 吗 呢 吧 啊 呀 么 嘛 哦 哈 啦 哎 呗 咯 嗯 喔 哇 噢 之 得 着 过 所 以 而 且 及 与 和 跟 同 或 或者
    我 你 您 他 她 它 我们 你们 他们 她们 咱 自己 人家 别人 大家 这 那 这个 那个 这些 那些 这样 那样 这么
    那么 这种 那种 此 其 是 不是 是不是 有 有没有 没 没有 在 就 都 也 还 又 才 再 很 太 更 最 挺 真 好像
    什么 怎么 怎么办 怎么样 怎样 如何 为什么 能 能不能 可以 可不可以 会 会不会 要 要不要 想 应该 该
    个 一个 一下 些 一些 点 一点 说 问 问问 知道 请 请问 算不算 行不行 对不对 好不好 了吗
    一 不 让 给 把 被 对 向 从 到 去 来 上 下 里 中 后 前 时 时候 情况 事 事情 东西 问题 现在 已经 然后
    但是 但 可是 因为 所以 如果 要是 还是 还有 以后 之后 以前 之前 老 总 总是 一直 天天 就是 不能 不会
    不了 不用 能够 需要 是否 行 真的 听说 做 弄 搞 用 拿 找 干 整 讲 哒 啵 老是 伐 恁
    唔 㗎 嘅 啲 咗 咩 喺 嗦 哟 系 伊 勿 找人
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())

# Intent words (canonical forms): they rank, but an entry that shares only these with a question is
# not on its topic (护照怎么办理 shares 申请 with the protection-order entry): such a question is declined.
_GENERIC_TEXT = """
    免费 申请 多久 多少 哪里 钱 谁 算 管 合法 查 领 评 带 开始 时间 几次 多 干什么 帮忙 有人 哪些 条件 手续
    材料 电话 一次 几 几天 交 发 打 吃 人 今年 每年 年龄
"""
GENERIC_WORDS: frozenset[str] = frozenset(_GENERIC_TEXT.split())
# Policies next to ours that a village woman asks about in the same breath, and the base does not
# cover (a person answers them): a part of a message naming one is a question of its own.
NEIGHBOUR_POLICIES = ("低保", "医保", "新农合", "养老保险", "养老金", "社保", "宅基地", "户口", "残疾", "工伤",
                      "五保", "特困", "危房", "临时救助", "高龄补贴", "土地流转", "拆迁", "征地", "公积金", "失业金")

# Danger *now* is read by services/danger.py (signals, present-time markers, framing): the decision is
# "danger" (110 and 12338 first, the member on duty alerted) whatever the FAQ score.
DANGER_TOPIC = "家庭暴力"  # a violence-now question is ranked as if it also said this

# --- normalisation ---------------------------------------------------------------------------------

_NOISE = re.compile(r"[\W_]+")  # punctuation, symbols, emoji, whitespace
_FILLER_RE = re.compile("|".join(re.escape(f) for f in sorted(FILLERS, key=len, reverse=True)))
_DIALECT_MAP = dict(DIALECT)
_DIALECT_RE = re.compile("|".join(re.escape(d) for d, _ in sorted(DIALECT, key=lambda p: -len(p[0]))))
_SPACES = re.compile(r"\s+")
# 离 alone after a wish or a permission is 离婚 (我能离不, 想离, 他不让离): without it the sound
# reader hears 能离 as 能力. Not before a character that makes 离 another word (离开, 离家, 距离 …).
_DIVORCE_VERB = re.compile(r"(?<=[能想要敢让意就肯])离(?![婚开家职校休异谱奇别世岗任线境去散间题子])")
# 吴 伊 is 他 (not in names: 伊朗, 伊犁 …); 湘 找哪个 is 找谁 (not 找哪个部门: a noun follows there).
_WU_HE = re.compile(r"伊(?![朗斯犁拉利甸万春通宁])")
_WHO = re.compile(r"(?<=[找寻])哪个(?=[\s帮啊咯呀吗呢嘛好去要]|$)")
# Let go without the word 辞退: 让我别来了, 说我明天不用来了, 别来上班了 (not 你别来了: no 让/叫/说 我, no 上班)
_LET_GO = re.compile(r"(?:[让叫喊]我|说我|说)(?:明天|以后|下个月)?(?:别|不用|不要)再?来(?:上班)?了"
                     r"|(?:明天|以后|下个月)?(?:别|不用|不要)再?来上班了"
                     r"|(?:[让叫喊]我)?(?:自己)?卷铺盖走人|[让叫喊]我(?:自己)?走人")  # 河南 / 桂柳
# An age (19岁, 十九周岁, 两岁) stands for the concept 年龄: the entries speak of ages generically.
_AGE = re.compile(r"(?:\d{1,3}|[一二三四五六七八九十两]{1,3})(?:周岁|岁)")
AGE_TOKEN = "年龄"


# A number said digit by digit (voice-to-text writes 幺二三三八 for 12338): five digits or more, so 一二三
# or 三四五 in a sentence stay words
_SPOKEN_DIGITS = re.compile("[幺〇零一二三四五六七八九]{5,}")
_DIGIT_OF = str.maketrans("幺〇零一二三四五六七八九", "100123456789")


# Bump when `normalise`, `fold` or `Tokenizer.tokens_of_normalised` change in a way the constants and
# libraries below do not show: stored entry tokens are then segmented again at the next start.
NORMALISE_VERSION = 5


def _normalisation_version() -> str:
    """What else decides an entry's tokens: our normalisation, jieba, OpenCC and Unicode versions."""
    try:
        opencc_version = importlib.metadata.version("opencc")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - installed with the package
        opencc_version = "?"
    return "|".join([str(NORMALISE_VERSION), str(jieba.__version__), opencc_version, unicodedata.unidata_version,
                     _NOISE.pattern, _AGE.pattern, AGE_TOKEN, _DIVORCE_VERB.pattern, _WU_HE.pattern, _WHO.pattern,
                     _LET_GO.pattern, _SPOKEN_DIGITS.pattern])


def normalise(text: str) -> str:
    """A question's canonical text: folded, punctuation/emoji → one space, chatter removed, dialect mapped,
    numbers said digit by digit written in digits."""
    s = _SPOKEN_DIGITS.sub(lambda m: m.group(0).translate(_DIGIT_OF), fold(text))
    s = _NOISE.sub(" ", s)
    s = _FILLER_RE.sub(" ", s)
    s = _DIALECT_RE.sub(lambda m: _DIALECT_MAP[m.group(0)], s)
    s = _DIVORCE_VERB.sub("离婚", s)
    s = _WHO.sub("谁", _WU_HE.sub("他", s))
    s = _LET_GO.sub("辞退我", s)
    return _SPACES.sub(" ", s).strip()


def find_danger(text: str) -> Danger | None:
    """The present danger a message speaks of (services.danger.detect), or None."""
    return detect(text)


# --- data ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    questions: tuple[str, ...]
    answer: str
    tags: tuple[str, ...] = ()
    source: str = ""
    referral: str = ""
    updated_at: str = ""
    org_id: int | None = None
    # Only the first `shown` phrasings are shown to people (the question over an answer, a button);
    # the rest are variants in village speech (俺…咋整, voice-to-text) the search matches but nobody
    # reads. 0: all are shown.
    shown: int = 0

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], org_id: int | None = None) -> Entry:
        """From a knowledge_base.jsonl row (or the like); `org_id` from the row when it has one; its
        "variants" (match-only phrasings) follow its "questions"."""
        questions = d["questions"]
        if isinstance(questions, str):
            questions = [questions]
        variants = [str(v) for v in d.get("variants") or () if str(v) not in questions]
        tags = d.get("tags") or ()
        if isinstance(tags, str):
            tags = [t for t in re.split(r"[,，、;；\s]+", tags) if t]
        row_org = d.get("org_id")
        return cls(
            id=str(d["id"]),
            questions=tuple(str(q) for q in [*questions, *variants]),
            answer=str(d["answer"]),
            tags=tuple(str(t) for t in tags),
            source=str(d.get("source") or ""),
            referral=str(d.get("referral") or ""),
            updated_at=str(d.get("updated_at") or ""),
            org_id=int(row_org) if row_org is not None else org_id,
            shown=len(questions) if variants else 0,
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    question: str  # the entry's phrasing closest to the query (the "您是不是想问" button text)
    score: float
    org_id: int | None = None
    likely: float | None = None  # P(the entry asked about), `rerank_model`; None: BM25's order kept
    cosine: float | None = None  # the sentence encoder's best cosine to its phrasings, when re-ranked


DecisionKind = Literal["answer", "suggest", "decline", "danger"]


@dataclass(frozen=True, slots=True)
class Decision:
    kind: DecisionKind
    best: Entry | None
    candidates: list[Candidate]
    confidence: float = 0.0  # top score / Σ idf of the query's tokens
    margin: float = 0.0  # (top − second) / top
    danger: str | None = None  # the danger category found (services.danger.Category)
    right: float = 0.0  # P(the top entry answers the question), `answer_model`
    # A second question in the same message: its entry, and whether it is answered too (else offered).
    also: tuple[Candidate, Entry, bool] | None = None
    # danger: the top entry is one the decision would answer directly (shown under the alarm's help);
    # `tentative` on a danger decision: likely enough to be shown there under "您问的是不是"
    answered: bool = False
    relevant: bool = False  # danger: the candidates clear the suggest bar (offered as buttons under the alarm)
    tentative: bool = False  # a suggestion likely enough to show the first entry's answer at once
    long_shot: bool = False  # offered below the lenient bar (a private question): a person gets it too
    # A question of the same message the base does not answer (低保怎么申请 after 离婚冷静期多久): a part
    # read alone and declined that names a matter of its own (not a follow-up such as 一年多少)
    unanswered: str | None = None


# Tokens of an entry per field: one tuple per question, then the tags, then (optionally) the answer.
DocTokens = tuple[tuple[str, ...], ...]


_DATA_PACKAGE = "services"
_DATA_DIR = "faq_data"


def _data_text(name: str) -> str:
    return importlib.resources.files(_DATA_PACKAGE).joinpath(_DATA_DIR, name).read_text(encoding="utf-8")


def load_shipped_entries() -> list[Entry]:
    """The deployment-wide knowledge base shipped as package data (faq_data/knowledge_base.jsonl)."""
    lines = _data_text("knowledge_base.jsonl").splitlines()
    return [Entry.from_dict(json.loads(line)) for line in lines if line.strip()]


def parse_synonyms(text: str) -> dict[str, str]:
    """synonyms.tsv → {folded variant: folded canonical}. A line is a tab-separated group, canonical
    first; a word already in an earlier group keeps that group; a later line whose first item is an
    existing word extends that word's group (chains resolve to the final canonical form)."""
    canon: dict[str, str] = {}
    for line in text.splitlines():
        items = [fold(x.strip()) for x in line.split("\t") if x.strip()]
        if not items or items[0].startswith("#"):
            continue
        for item in items:
            canon.setdefault(item, items[0])
    for word in list(canon):
        head, seen = canon[word], {word}
        while canon.get(head, head) != head and head not in seen:
            seen.add(head)
            head = canon[head]
        canon[word] = head
    return canon


def parse_user_dict(text: str) -> list[tuple[str, int | None, str | None]]:
    """jieba user-dict lines `word [freq] [tag]` → (folded word, freq, tag)."""
    out: list[tuple[str, int | None, str | None]] = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        tag = parts[-1] if len(parts) > 1 and not parts[-1].isdigit() else None
        out.append((fold(parts[0]), freq, tag))
    return out


# --- tokenizer -------------------------------------------------------------------------------------

TokenMode = Literal["cut", "search", "cut+sub", "cut+sub+bigram"]


class Tokenizer:
    """jieba (own instance, initialised eagerly) + domain dictionary + synonyms + stop words.

    Building one costs ~1 s (jieba's prefix dictionary): one per process, at start-up (`get_tokenizer`).
    `mode` exists for the comparison in bench/faq_quality.py; the engine uses "cut+sub".
    """

    def __init__(
        self,
        user_dict: str | None = None,
        synonyms: str | None = None,
        *,
        mode: TokenMode = "cut+sub",
        hmm: bool = False,
    ) -> None:
        user_dict = _data_text("user_dict.txt") if user_dict is None else user_dict
        synonyms = _data_text("synonyms.tsv") if synonyms is None else synonyms
        self.mode: TokenMode = mode
        self.hmm = hmm
        # Identifies the segmentation: stored or cached DocTokens are valid only under the same signature
        # (the dictionaries, the word lists, the normalisation and the libraries' versions).
        self.signature = hashlib.sha256(
            "\x00".join(
                [user_dict, synonyms, mode, str(hmm), " ".join(sorted(STOP_WORDS)), repr(FILLERS), repr(DIALECT),
                 _normalisation_version()]
            ).encode()
        ).hexdigest()[:16]
        jieba.setLogLevel(logging.WARNING)
        self._jieba = jieba.Tokenizer()
        self._jieba.initialize()
        for word, freq, tag in parse_user_dict(user_dict):
            self._jieba.add_word(word, freq, tag)
        self._canon = parse_synonyms(synonyms)
        self._freq: dict[str, int] = self._jieba.FREQ
        for word in sorted(set(self._canon) | set(self._canon.values()), key=len):
            if len(word) > 1 and not self._freq.get(word):
                self._jieba.add_word(word)
        self._freq_total = sum(self._freq.values())
        self._sub_cache: dict[str, tuple[str, ...]] = {}
        self._spans: OrderedDict[str, tuple[tuple[str, int, int], ...]] = OrderedDict()

    def spans(self, text: str) -> list[tuple[str, int, int]]:
        """jieba's words of `text` with their positions (word, start, end). The last few texts are
        remembered: a question is cut into words once, for its tokens and for its sound-alikes."""
        found = self._spans.get(text)
        if found is None:
            found = self._spans[text] = tuple(self._jieba.tokenize(text, HMM=self.hmm))
            if len(self._spans) > SPANS_KEPT:
                self._spans.popitem(last=False)
        return list(found)

    def is_word(self, text: str) -> bool:
        """Is `text` a word of jieba's dictionary (general or domain)?"""
        return bool(self._freq.get(text))

    def synonym_pairs(self) -> list[tuple[str, str]]:
        """(variant, canonical) for every synonym group member."""
        return list(self._canon.items())

    def general_freq(self) -> Mapping[str, int]:
        """jieba's dictionary frequencies (general Chinese, plus the domain words added)."""
        return self._freq

    def general_rarity(self, word: str) -> float:
        """How rare `word` is in general Chinese: log(total / frequency) from jieba's dictionary, / 20
        (about 1 for the rarest words); 0 for a word outside the dictionary (进厂, a typo: unknown, not
        known to be rare)."""
        count = self._freq.get(word, 0)
        return min(math.log(self._freq_total / count) / 20, 1.0) if count > 0 else 0.0

    def canonical(self, word: str) -> str:
        """The canonical form of a (folded) word."""
        return self._canon.get(word, word)

    def _subwords(self, word: str) -> tuple[str, ...]:
        subs = self._sub_cache.get(word)
        if subs is None:
            found: list[str] = []
            for n in (2, 3):
                for i in range(len(word) - n + 1):
                    gram = word[i : i + n]
                    # a sub-word that is itself a variant would double-count its canonical form
                    canonical = self._canon.get(gram, gram) == gram
                    if gram != word and self._freq.get(gram) and gram not in STOP_WORDS and canonical:
                        found.append(gram)
            latin = _LATIN_WORD.fullmatch(word)
            if latin is not None and latin.group(1) and latin.group(2):  # hpv疫苗 → hpv as well
                found.append(latin.group(1))
            subs = tuple(found)
            if len(self._sub_cache) < 100_000:
                self._sub_cache[word] = subs
        return subs

    def tokens_of_normalised(self, text: str) -> list[str]:
        """Tokens of a text already passed through `normalise`."""
        text = _AGE.sub(f" {AGE_TOKEN} ", text)
        if self.mode == "search":
            words = self._jieba.lcut_for_search(text, HMM=self.hmm)
        else:
            words = [word for word, _, _ in self.spans(text)]  # = jieba's lcut, remembered
        out: list[str] = []
        canon = self._canon
        subwords = self.mode in ("cut+sub", "cut+sub+bigram")
        for w in words:
            if w.isspace():
                continue
            c = canon.get(w, w)
            if c in STOP_WORDS:
                continue
            out.append(c)
            if subwords and len(c) > 2:
                out.extend(self._subwords(c))
        if self.mode == "cut+sub+bigram":
            for chunk in text.split():
                out.extend(chunk[i : i + 2] for i in range(len(chunk) - 1))
        return out

    def tokens(self, text: str) -> list[str]:
        """normalise + segment + synonyms + stop words."""
        return self.tokens_of_normalised(normalise(text))

    def entry_tokens(self, entry: Entry, with_answer: bool = True) -> DocTokens:
        """An entry's tokens per field: each question, the tags, then the answer (if `with_answer`)."""
        fields = [tuple(self.tokens(q)) for q in entry.questions]
        fields.append(tuple(t for tag in entry.tags for t in self.tokens(tag)))
        if with_answer:
            fields.append(tuple(self.tokens(entry.answer)))
        return tuple(fields)


_TOKENIZER: Tokenizer | None = None
_TOKENIZER_LOCK = threading.Lock()


def get_tokenizer() -> Tokenizer:
    """The process-wide tokenizer with the shipped dictionary; the first call builds it (~1 s), so
    make that call at start-up."""
    global _TOKENIZER
    with _TOKENIZER_LOCK:
        if _TOKENIZER is None:
            _TOKENIZER = Tokenizer()
        return _TOKENIZER


# --- index -----------------------------------------------------------------------------------------

_Contribution = tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]
_NO_SLOTS: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
_NO_VALUES: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
MAX_SCOPES_CACHED = 1024  # organisations whose idf figures are kept between queries


class _Field:
    """One BM25 field of one part: postings (token id → slot array, unit array), doc lengths, and the
    length norms for the last average length asked for."""

    __slots__ = ("b", "dl", "norm", "norm_key", "postings", "total")

    def __init__(self, b: float, capacity: int) -> None:
        self.b = b
        self.postings: dict[int, tuple[array.array[int], array.array[int]]] = {}
        self.dl = np.zeros(capacity, dtype=np.int64)  # in units
        self.total = 0  # Σ dl, in units: integer, so add/remove never drifts
        self.norm: npt.NDArray[np.float64] | None = None  # k1 * (1 - b + b * dl / avgdl), per slot
        self.norm_key: tuple[float, float, int] = (0.0, 0.0, 0)

    def add(self, slot: int, counts: Mapping[int, int]) -> None:
        postings = self.postings
        for tid, units in counts.items():
            p = postings.get(tid)
            if p is None:
                p = postings[tid] = (array.array("i"), array.array("H"))
            p[0].append(slot)
            p[1].append(units if units < 65535 else 65535)
        length = sum(counts.values())
        self.dl[slot] = length
        self.total += length
        self.norm = None

    def remove(self, slot: int, tids: Iterable[int]) -> None:
        for tid in tids:
            slots, units = self.postings[tid]
            i = slots.index(slot)
            del slots[i]
            del units[i]
            if not slots:
                del self.postings[tid]
        self.total -= int(self.dl[slot])
        self.dl[slot] = 0
        self.norm = None

    def clone(self) -> _Field:
        """A copy whose postings and lengths change independently (`norm` is replaced, never changed)."""
        new = _Field(self.b, 0)
        new.postings = {tid: (slots[:], units[:]) for tid, (slots, units) in self.postings.items()}
        new.dl, new.total, new.norm, new.norm_key = self.dl.copy(), self.total, self.norm, self.norm_key
        return new

    def grow(self, capacity: int) -> None:
        dl = np.zeros(capacity, dtype=np.int64)
        dl[: len(self.dl)] = self.dl
        self.dl = dl
        self.norm = None

    def df(self, tid: int) -> int:
        p = self.postings.get(tid)
        return len(p[0]) if p is not None else 0

    def norms(self, k1: float, avgdl: float, n_slots: int) -> npt.NDArray[np.float64]:
        key = (k1, avgdl, n_slots)
        if self.norm is None or self.norm_key != key:
            dl = self.dl[:n_slots].astype(np.float64) / UNIT
            self.norm = k1 * (1.0 - self.b + self.b * dl / (avgdl or 1.0))
            self.norm_key = key
        return self.norm


class _Doc:
    """An indexed entry and its token ids, packed in one int array (memory: ~0.5 kB per entry):
    [n_q, n_a, distinct ids of the question field…, of the answer field…, then each phrasing's
    distinct ids, each phrasing followed by -1]."""

    __slots__ = ("entry", "packed")

    def __init__(self, entry: Entry, q_terms: Iterable[int], a_terms: Iterable[int],
                 phrasings: Iterable[Iterable[int]]) -> None:
        q, a = list(q_terms), list(a_terms)
        packed = array.array("i", [len(q), len(a), *q, *a])
        for phrasing in phrasings:
            packed.extend(phrasing)
            packed.append(-1)
        self.entry = entry
        self.packed = packed

    def q_terms(self) -> array.array[int]:
        return self.packed[2 : 2 + self.packed[0]]

    def a_terms(self) -> array.array[int]:
        n_q, n_a = self.packed[0], self.packed[1]
        return self.packed[2 + n_q : 2 + n_q + n_a]

    def has_term(self, tid: int) -> bool:
        q_terms, a_terms = _term_sets(self)
        return tid in q_terms or tid in a_terms

    def closest(self, wanted: Mapping[int, float], limit: int = 0, once: bool = False) -> tuple[int, set[int]]:
        """The phrasing holding most of the question's weight (`wanted`: token id → weight), a little
        against long ones, the first of equals, among the first `limit` phrasings (0: all); with its ids.
        (0, empty) for an entry without phrasings. A decision asks this of a dozen entries with a dozen
        phrasings each, several times: each entry's phrasings are looked up by id (`_phrasing_index`);
        `once` (a ranking's candidate, asked once per question: in a county most are entries met for the
        first time) reads the packed array straight unless that lookup is already made."""
        index = _phrasing_index(self, build=not once)
        if index is None:
            return self._closest_scan(wanted, limit)
        where, lengths, spans = index
        n = min(limit, len(lengths)) if limit else len(lengths)
        if not n:
            return 0, set()
        scores = [-0.01 * length for length in lengths[:n]]
        for tid, weight in wanted.items():
            for i in where.get(tid, ()):
                if i < n:
                    scores[i] += weight
        best = max(range(n), key=scores.__getitem__)  # the first of equals
        start, end = spans[best]
        n_q, n_a = self.packed[0], self.packed[1]
        return best, set(self.packed[2 + n_q + n_a + start : 2 + n_q + n_a + end])

    def _closest_scan(self, wanted: Mapping[int, float], limit: int) -> tuple[int, set[int]]:
        """`closest` read straight from the packed array (same result)."""
        n_q, n_a = self.packed[0], self.packed[1]
        tail = self.packed[2 + n_q + n_a :]
        best_i, best_w, best_span = 0, -math.inf, (0, 0)
        i, w, start = 0, 0.0, 0
        weight = wanted.get
        for pos, tid in enumerate(tail):
            if tid >= 0:
                w += weight(tid, 0.0)
                continue
            w -= 0.01 * (pos - start)  # the phrasing's length: its ids since the last separator
            if w > best_w and (not limit or i < limit):
                best_i, best_w, best_span = i, w, (start, pos)
            i, w, start = i + 1, 0.0, pos + 1
        if best_w == -math.inf:
            return 0, set()
        return best_i, set(tail[best_span[0] : best_span[1]])

    def phrasings(self) -> list[set[int]]:
        out: list[set[int]] = [set()]
        for tid in self.packed[2 + self.packed[0] + self.packed[1] :]:
            if tid < 0:
                out.append(set())
            else:
                out[-1].add(tid)
        return out[:-1]


_PhrasingIndex = tuple[dict[int, tuple[int, ...]], list[int], list[tuple[int, int]]]
_PHRASING_INDEXES: OrderedDict[_Doc, _PhrasingIndex] = OrderedDict()
PHRASING_INDEXES_KEPT = 4096


def _phrasing_index(doc: _Doc, build: bool = True) -> _PhrasingIndex | None:
    """An entry's phrasings by token id: id → the phrasings holding it, each phrasing's length, and its
    span in the packed tail (the entries decisions rank, a few thousand at most, are remembered; the
    first made first forgotten). None where it is not made yet and `build` is False."""
    found = _PHRASING_INDEXES.get(doc)
    if found is None and build:
        found = _PHRASING_INDEXES[doc] = _make_phrasing_index(doc)
        if len(_PHRASING_INDEXES) > PHRASING_INDEXES_KEPT:
            _PHRASING_INDEXES.popitem(last=False)
    return found


def _make_phrasing_index(doc: _Doc) -> _PhrasingIndex:
    n_q, n_a = doc.packed[0], doc.packed[1]
    where: dict[int, list[int]] = {}
    lengths: list[int] = []
    spans: list[tuple[int, int]] = []
    start = 0
    for pos, tid in enumerate(doc.packed[2 + n_q + n_a :]):
        if tid >= 0:
            holders = where.setdefault(tid, [])
            if not holders or holders[-1] != len(lengths):
                holders.append(len(lengths))
            continue
        lengths.append(pos - start)
        spans.append((start, pos))
        start = pos + 1
    return {tid: tuple(held) for tid, held in where.items()}, lengths, spans


@lru_cache(maxsize=4096)
def _term_sets(doc: _Doc) -> tuple[frozenset[int], frozenset[int]]:
    """An entry's token ids in its question field and in its answer, as sets (remembered like
    `_phrasing_index`)."""
    return frozenset(doc.q_terms()), frozenset(doc.a_terms())


_SoundTables = tuple[dict[str, list[str]], dict[str, list[str]]]


class _Part:
    """The entries of one organisation, or the deployment-wide ones: own slots, docs and two fields."""

    __slots__ = ("a", "docs", "free", "hidden", "q", "slots", "sounds", "version")

    def __init__(self, b_questions: float, b_answer: float) -> None:
        self.slots: dict[str, int] = {}  # entry id → slot
        self.docs: list[_Doc | None] = []
        self.free: list[int] = []
        self.q = _Field(b_questions, 16)
        self.a = _Field(b_answer, 16)
        self.version = 0  # bumped on every change of this part
        # (sound key, spelling key) → the words first indexed in this part that sound so (`sound_alikes`)
        self.sounds: _SoundTables = ({}, {})
        # (versions of both parts, deployment-wide slots this organisation's entries replace)
        self.hidden: tuple[tuple[int, int], npt.NDArray[np.intp]] | None = None

    def __len__(self) -> int:
        return len(self.slots)

    def doc(self, entry_id: str) -> _Doc:
        doc = self.docs[self.slots[entry_id]]
        assert doc is not None
        return doc

    def clone(self) -> _Part:
        new = _Part(self.q.b, self.a.b)
        new.slots, new.docs, new.free = dict(self.slots), list(self.docs), list(self.free)
        new.q, new.a = self.q.clone(), self.a.clone()
        new.version, new.hidden = self.version, self.hidden
        new.sounds = ({k: list(w) for k, w in self.sounds[0].items()}, {k: list(w) for k, w in self.sounds[1].items()})
        return new


class _Gathered:
    """One part's postings of the tokens `FaqIndex._contributions` scores together."""

    __slots__ = ("coefs", "ends", "fields", "lengths", "slots", "starts", "units")

    def __init__(self) -> None:
        self.slots: array.array[int] = array.array("i")
        self.units: array.array[int] = array.array("H")
        self.coefs: list[float] = []
        self.lengths: list[int] = []
        self.fields: list[int] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def add(self, posting: tuple[array.array[int], array.array[int]], coef: float, field_: int) -> None:
        self.slots.extend(posting[0])
        self.units.extend(posting[1])
        self.coefs.append(coef)
        self.lengths.append(len(posting[0]))
        self.fields.append(field_)


class FaqIndex:
    """BM25 over inverted indexes of two fields (questions+tags, answer), maintained incrementally, in
    parts: the deployment-wide entries, and each organisation's own. A question from an organisation
    is scored over the deployment-wide part and that organisation's part only, with the statistics
    (N, df, avgdl) of those two parts: what other organisations write changes neither its answers nor
    its cached figures.

    Not thread-safe: use it from one thread (the bot's event loop).
    """

    def __init__(
        self,
        tokenizer: Tokenizer | None = None,
        *,
        k1: float = K1,
        b_questions: float = B_QUESTIONS,
        b_answer: float = B_ANSWER,
        answer_weight: float = ANSWER_WEIGHT,
        question_units: int = QUESTION_UNITS,
        tag_units: int = TAG_UNITS,
    ) -> None:
        self.tokenizer = tokenizer if tokenizer is not None else get_tokenizer()
        self.k1 = k1
        self.answer_weight = answer_weight
        self._b = (b_questions, b_answer)
        self._units = (question_units, tag_units)
        self._vocab: dict[str, int] = {}
        self._parts: dict[int | None, _Part] = {None: _Part(b_questions, b_answer)}
        # Organisations whose stored entries are indexed on first use (`defer`): (count, loader).
        self._pending: dict[int, tuple[int, Callable[[], Iterable[tuple[Entry, DocTokens | None]]]]] = {}
        self._size = 0
        # Per (scope, token): the slots it scores in each part of the scope and its BM25 contribution
        # (both fields, idf included), valid until the next change of the scope's parts; least recently
        # used first out beyond CACHE_POSTINGS elements. A scope is None (the deployment-wide entries,
        # also for an organisation without entries of its own) or an organisation's id.
        self._cache: OrderedDict[tuple[int | None, int], tuple[_Contribution, _Contribution]] = OrderedDict()
        self._cache_tids: dict[int | None, set[int]] = {}
        self._cached = 0
        # per scope: a token's idf (`idf`), and a token id's in the question field alone (`_q_idf`)
        self._idf: OrderedDict[int | None, tuple[dict[str, float], dict[int, float]]] = OrderedDict()
        self.version = 0  # bumped on every change anywhere
        self._read: OrderedDict[tuple[str, int | None, tuple[int, int]], tuple[str, tuple[str, ...]]] = OrderedDict()
        self._lexical_seen: OrderedDict[tuple[str, tuple[str, ...], int, int | None, tuple[int, int]],
                                        tuple[list[Candidate], float, list[dict[str, float]] | None]] = OrderedDict()
        self._ranked_seen: OrderedDict[tuple[tuple[str, ...], int, int | None, tuple[int, int]],
                                       tuple[Candidate, ...]] = OrderedDict()
        # (own entry id, organisation, its scope's version) → the deployment-wide entry it is the version of
        self._twin_seen: dict[tuple[str, int, tuple[int, int]], tuple[str, float] | None] = {}
        # (deployment-wide entry id, organisation, least likely, scope version) → its own entry on that matter
        self._counterpart_seen: dict[tuple[str, int, float, tuple[int, int]], Entry | None] = {}
        # Sound key (fuzzy pinyin, syllables apart / run together for typed pinyin) → the canonical words
        # of the synonym variants that sound so; each part keeps the same for the words it indexed first.
        self._sounds: _SoundTables = ({}, {})
        for variant, canonical in self.tokenizer.synonym_pairs():
            self._add_sound(self._sounds, variant, canonical)

    # -- building ----------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        entries: Iterable[Entry],
        tokenizer: Tokenizer | None = None,
        *,
        doc_tokens: Sequence[DocTokens] | None = None,
        **params: Any,
    ) -> FaqIndex:
        """Index `entries`; `doc_tokens` (same order, from `Tokenizer.entry_tokens`) skips segmentation."""
        index = cls(tokenizer, **params)
        for i, entry in enumerate(entries):
            index.add(entry, doc_tokens[i] if doc_tokens is not None else None)
        index.warm()
        return index

    def clone(self) -> FaqIndex:
        """An independent copy: what add/remove change in place is copied; what they only replace (the
        entries, their packed token ids, cached score vectors, the tokenizer) is shared."""
        new = copy.copy(self)
        new._vocab = dict(self._vocab)
        new._parts = {org: part.clone() for org, part in self._parts.items()}
        new._pending = dict(self._pending)
        new._cache = OrderedDict(self._cache)
        new._cache_tids = {scope: set(tids) for scope, tids in self._cache_tids.items()}
        new._idf = OrderedDict((scope, (dict(w), dict(q))) for scope, (w, q) in self._idf.items())
        new._read = OrderedDict()
        new._lexical_seen = OrderedDict()
        new._ranked_seen = OrderedDict()
        new._twin_seen = {}
        new._counterpart_seen = {}
        return new

    @property
    def fingerprint(self) -> str:
        """What stored `DocTokens` must have been made under to be used as they are (`add`)."""
        return f"{self.tokenizer.signature}:{int(self.answer_weight > 0)}"

    def warm(self, budget: int = CACHE_POSTINGS // 2) -> None:
        """Compute the score vectors of the deployment-wide entries' most frequent tokens now, so the
        first questions after start-up do not pay for them (a change drops them; they refill on use)."""
        shared = self._parts[None]
        sizes: Counter[int] = Counter()
        for fld in (shared.q, shared.a):
            for tid, (slots, _) in fld.postings.items():
                sizes[tid] += len(slots)
        for tid, size in sizes.most_common():
            if self._cached + size > budget:
                break
            self._contribution(tid, None)

    def __len__(self) -> int:
        return self._size

    def get(self, entry_id: str, org_id: int | None = None) -> Entry | None:
        """The entry stored under exactly (org_id, entry_id)."""
        part = self._part(org_id)
        slot = part.slots.get(entry_id) if part is not None else None
        doc = part.docs[slot] if part is not None and slot is not None else None
        return doc.entry if doc is not None else None

    def entries(self) -> list[Entry]:
        """Every entry (organisations' deferred entries are indexed first)."""
        for org_id in list(self._pending):
            self._part(org_id)
        return [d.entry for part in self._parts.values() for d in part.docs if d is not None]

    def organisations(self) -> list[int | None]:
        """Every part: None (the deployment-wide entries) first, then each organisation with entries,
        indexed or deferred."""
        return [None, *(o for o in self._parts if o is not None), *self._pending]

    def entries_of(self, org_id: int | None) -> list[Entry]:
        """The entries stored under exactly `org_id` (None: the deployment-wide ones)."""
        part = self._part(org_id)
        return [d.entry for d in part.docs if d is not None] if part is not None else []

    def defer(self, org_id: int, count: int, load: Callable[[], Iterable[tuple[Entry, DocTokens | None]]]) -> None:
        """`count` stored entries of an organisation (with their stored tokens, or None to segment) indexed
        when first needed: a question from that organisation, an edit, its listing. Start-up then reads
        them without indexing; indexing one organisation's few dozen entries takes a few milliseconds."""
        if org_id in self._parts or org_id in self._pending:
            raise ValueError(f"organisation {org_id} is already indexed")
        self._pending[org_id] = (count, load)
        self._size += count

    def pending(self) -> int:
        """Stored entries not indexed yet (`defer`)."""
        return sum(count for count, _ in self._pending.values())

    def index_pending(self, limit: int | None = None) -> int:
        """Index deferred organisations now, about `limit` entries' worth (all by default); → how many
        deferred entries are left."""
        done = 0
        for org_id in list(self._pending):
            if limit is not None and done >= limit:
                break
            done += self._pending[org_id][0]
            self._part(org_id)
        return self.pending()

    def _part(self, org_id: int | None) -> _Part | None:
        """The part of `org_id` (its deferred entries indexed now), or None when it has none."""
        found = self._pending.pop(org_id, None) if org_id is not None else None
        if found is not None:
            assert org_id is not None
            count, load = found
            self._size -= count
            part = self._parts[org_id] = _Part(*self._b)
            for entry, doc_tokens in load():
                self._add(part, entry, doc_tokens)
            part.version += 1
            self._invalidate(org_id)
        return self._parts.get(org_id)

    def doc_tokens(self, entry: Entry) -> DocTokens:
        """What `add` indexes for an entry (store it with `fingerprint` to skip segmentation)."""
        return self.tokenizer.entry_tokens(entry, with_answer=self.answer_weight > 0)

    def tokens_fit(self, entry: Entry, doc_tokens: DocTokens) -> bool:
        """Do stored tokens have the fields `add` expects of this entry (each question, tags, answer)?"""
        return len(doc_tokens) == len(entry.questions) + 1 + int(self.answer_weight > 0)

    def add(self, entry: Entry, doc_tokens: DocTokens | None = None) -> None:
        """Add an entry; an existing entry with the same (org_id, id) is replaced."""
        if self.get(entry.id, entry.org_id) is not None:
            self.remove(entry.id, entry.org_id)
        part = self._part(entry.org_id)
        if part is None:
            part = self._parts[entry.org_id] = _Part(*self._b)
        self._add(part, entry, doc_tokens)
        self._invalidate(entry.org_id)

    def _add(self, part: _Part, entry: Entry, doc_tokens: DocTokens | None) -> None:
        """Index a new entry into its part (caches are the caller's business)."""
        fields = doc_tokens if doc_tokens is not None else self.doc_tokens(entry)
        n_q = len(entry.questions)
        qu, tu = self._units
        vocab, new_tid = self._vocab, self._tid
        phrasings = []
        asked: list[int] = []
        for toks in fields[:n_q]:
            ids = [vocab[t] if t in vocab else new_tid(t) for t in toks]
            phrasings.append(dict.fromkeys(ids))
            asked += ids
        q_counts = {tid: n * qu for tid, n in Counter(asked).items()}
        if len(fields) > n_q:
            for tid, n in Counter([vocab[t] if t in vocab else new_tid(t) for t in fields[n_q]]).items():
                q_counts[tid] = q_counts.get(tid, 0) + n * tu
        a_counts: dict[int, int] = {}
        if self.answer_weight > 0 and len(fields) > n_q + 1:
            a_counts = {tid: n * UNIT for tid, n in
                        Counter([vocab[t] if t in vocab else new_tid(t) for t in fields[n_q + 1]]).items()}

        # Words the part has no entry with yet go into its sound tables (an organisation's only when the
        # deployment-wide entries do not have them: those tables hold them already).
        shared = self._parts[None]
        indexed = fields[: n_q + 2] if a_counts else fields[: n_q + 1]
        for word in dict.fromkeys(t for toks in indexed for t in toks):
            tid = vocab[word]
            if tid in part.q.postings or tid in part.a.postings:
                continue
            if part is not shared and (tid in shared.q.postings or tid in shared.a.postings):
                continue
            self._add_sound(part.sounds, word, word, PART_SOUND_WORDS)

        slot = part.free.pop() if part.free else len(part.docs)
        if slot == len(part.docs):
            part.docs.append(None)
            if slot >= len(part.q.dl):
                part.q.grow(2 * len(part.q.dl))
                part.a.grow(2 * len(part.a.dl))
        part.docs[slot] = _Doc(entry, q_counts, a_counts, phrasings)
        part.slots[entry.id] = slot
        part.q.add(slot, q_counts)
        part.a.add(slot, a_counts)
        self._size += 1

    def update(self, entry: Entry, doc_tokens: DocTokens | None = None) -> None:
        """Replace the entry with the same (org_id, id); KeyError when there is none."""
        if self.get(entry.id, entry.org_id) is None:
            raise KeyError(entry.id)
        self.add(entry, doc_tokens)

    def remove(self, entry_id: str, org_id: int | None = None) -> Entry:
        """Remove and return the entry (org_id, entry_id); KeyError when there is none."""
        part = self._part(org_id)
        if part is None:
            raise KeyError(entry_id)
        slot = part.slots.pop(entry_id)
        doc = part.docs[slot]
        assert doc is not None
        part.q.remove(slot, doc.q_terms())
        part.a.remove(slot, doc.a_terms())
        part.docs[slot] = None
        part.free.append(slot)
        self._size -= 1
        self._invalidate(org_id)
        return doc.entry

    def _invalidate(self, org_id: int | None) -> None:
        """A change of `org_id`'s entries (None: the deployment-wide ones, which every scope holds)."""
        self.version += 1
        part = self._parts.get(org_id)
        if part is not None:
            part.version += 1
        if org_id is None:
            self.drop_caches()
            return
        for tid in self._cache_tids.pop(org_id, ()):
            (g, _), (o, _) = self._cache.pop((org_id, tid))
            self._cached -= len(g) + len(o)
        self._idf.pop(org_id, None)

    def drop_caches(self) -> None:
        """Forget every cached score vector and idf, and the last rankings and lexical decisions
        (benchmarks: measure questions as after a change)."""
        self._cache.clear()
        self._cache_tids.clear()
        self._cached = 0
        self._idf.clear()
        self._ranked_seen.clear()
        self._lexical_seen.clear()

    def _tid(self, token: str) -> int:
        tid = self._vocab.get(token)
        if tid is None:
            tid = self._vocab[token] = len(self._vocab)
        return tid

    @staticmethod
    def _add_sound(tables: _SoundTables, spelled: str, word: str, most: int = SOUND_WORDS) -> None:
        if 2 <= len(spelled) <= 5 and _CJK_RUN.fullmatch(spelled) and word not in GENERIC_WORDS:
            for syllables in readings(spelled):  # 重婚: chong hun, and zhong hun as 重 is mostly read
                for table, key in ((tables[0], sound_key(syllables)), (tables[1], sound_key(syllables, ""))):
                    same = table.setdefault(key, [])
                    if word not in same and len(same) < most:
                        same.append(word)

    def _sound_words(self, key: str, spelling: bool, shared: _Part, own: _Part | None) -> list[str]:
        """The words of a scope that sound like `key`: the synonyms' first, then the deployment-wide
        entries', then the organisation's (at most SOUND_WORDS, in the order they were first indexed)."""
        t = int(spelling)
        words: list[str] = []
        for part in (None, shared, own):
            table = self._sounds[t] if part is None else part.sounds[t]
            for word in table.get(key, ()):
                if word not in words:
                    words.append(word)
        return words[:SOUND_WORDS]

    def _known(self, token: str, shared: _Part, own: _Part | None) -> bool:
        """Does an entry of the scope hold the token (in any field)?"""
        tid = self._vocab.get(token)
        return tid is not None and any(
            tid in f.postings for part in (shared, own) if part is not None for f in (part.q, part.a))

    def _asked(self, token: str, shared: _Part, own: _Part | None) -> bool:
        """Does an entry of the scope hold the token in its questions (not only in an answer's prose)?"""
        tid = self._vocab.get(token)
        return tid is not None and any(tid in part.q.postings for part in (shared, own) if part is not None)

    def sound_alikes(self, text: str, tokens: Sequence[str], org_id: int | None = None,
                     spans: list[tuple[int, int, str]] | None = None) -> list[str]:
        """Words of `org_id`'s scope the normalised `text` writes with other characters of the same sound
        (铺乳期 → 哺乳期 no, 性扫扰 → 性骚扰, 乳线癌 → 乳腺癌) or in pinyin (shengyu jintie → 生育 津贴): only
        where no word of two or more characters the scope's entries hold already covers the text.
        `spans` gets (start, end, word) for each window heard exactly as one word (`_heard_exactly`)."""
        _, shared, own = self._scope(org_id)
        covered = bytearray(len(text))
        for t in tokens:
            if len(t) > 1 and self._known(t, shared, own):
                start = text.find(t)
                while start >= 0:
                    covered[start : start + len(t)] = b"\x01" * len(t)
                    start = text.find(t, start + 1)
        words: list[tuple[int, int]] | None = None  # jieba's real words with positions, when needed
        owner: list[int] = []
        found: dict[str, None] = {}
        for run in _CJK_RUN.finditer(text):
            if all(covered[run.start() : run.end()]):
                continue  # every character already belongs to an indexed word: nothing to hear
            if words is None:
                words = [(start, end) for w, start, end in self.tokenizer.spans(text)
                         if end - start > 1 and self.tokenizer.is_word(w)]
                # The word at each position (jieba's words do not overlap): a window cuts through a
                # word when the word at its first character starts before it or the word at its last
                # character ends after it.
                owner = [-1] * len(text)
                for k, (start, end) in enumerate(words):
                    owner[start:end] = [k] * (end - start)
            syllables = _run_syllables(run.group(0))
            if len(syllables) != len(run.group(0)):
                continue
            for n in (2, 3, 4):
                for i in range(len(syllables) - n + 1):
                    at = run.start() + i
                    spelled = text[at : at + n]
                    first, last = owner[at], owner[at + n - 1]
                    cuts = (first >= 0 and words[first][0] < at) or (last >= 0 and words[last][1] > at + n)
                    if cuts or all(covered[at : at + n]) or self.tokenizer.is_word(spelled):
                        continue  # cutting through a word, already understood, or a real word written right
                    # an adverb and its verb (这也算吗, 老是打我, 先找谁) is not a word misspelt, unless only
                    # the adverb-like first character is the slip (那个也酸 → 叶酸)
                    adverb = n == 2 and spelled[0] in _ADVERB_LEADS
                    heard = [word for word in self._sound_words(sound_key(syllables[i : i + n]), False, shared, own)
                             if not adverb or word[1:] == spelled[1:]]
                    for word in heard:
                        found[word] = None
                    if spans is not None and heard:
                        exact = [word for word in heard if _heard_exactly(spelled, syllables[i : i + n], word)
                                 and self._asked(word, shared, own)]
                        if len(exact) == 1:
                            spans.append((at, at + n, exact[0]))
        for run in _LATIN_RUN.finditer(text):
            latin = run.group(0).split()
            for n in (1, 2, 3, 4):
                for i in range(len(latin) - n + 1):
                    for word in self._sound_words(sound_key(latin[i : i + n], ""), True, shared, own):
                        found[word] = None
        return [w for w in found if w not in tokens]

    def spell_pinyin(self, text: str, org_id: int | None = None) -> str:
        """Typed pinyin written in the characters of the scope's words that sound so (shengyu jintie能拿多少
        → 生育津贴能拿多少; qisu lihun → 起诉离婚), so the question is read, ranked and embedded as if typed
        in characters. Longest groups of syllables first; a word of Latin letters the scope knows
        (hpv) and anything that sounds like no word of the scope stay as they are."""
        if not _LATIN_RUN.search(text):
            return text
        _, shared, own = self._scope(org_id)

        def spelled(run: re.Match[str]) -> str:
            latin = run.group(0).split()
            out: list[str] = []
            i = 0
            while i < len(latin):
                for n in range(min(4, len(latin) - i), 0, -1):
                    group = latin[i:i + n]
                    if n == 1 and self._known(group[0], shared, own):
                        words = []  # a Latin word of the scope's own (hpv, app)
                    else:
                        key = sound_key(group, "")
                        words = self._sound_words(key, True, shared, own) or _question_words().get(key, [])
                    if words:
                        out.append(words[0])
                        i += n
                        break
                else:
                    out.append(f" {latin[i]} ")
                    i += 1
            return "".join(out)

        return re.sub(r" {2,}", " ", _LATIN_RUN.sub(spelled, text)).strip()

    def query_tokens(self, query: str, org_id: int | None = None) -> tuple[str, list[str]]:
        """(normalised text, distinct tokens with their sound-alikes in `org_id`'s scope) of a question
        (markup pasted with it, <b>…</b> or &amp;, is not part of it; a slip heard exactly as one of our
        words written as that word: `_heard_exactly`). The last few are remembered
        while the scope is unchanged: one message is read several times (whole, its parts, again
        leniently)."""
        key = (query, org_id, self.scope_version(org_id))
        found = self._read.get(key)
        if found is None:
            text = self.spell_pinyin(normalise(_MARKUP.sub(" ", query)), org_id)
            tokens = list(dict.fromkeys(self.tokenizer.tokens_of_normalised(text)))
            spans: list[tuple[int, int, str]] = []
            heard = self.sound_alikes(text, tokens, org_id, spans)
            if spans:
                text = _written_as_heard(text, spans)
                tokens = list(dict.fromkeys(self.tokenizer.tokens_of_normalised(text)))
            found = self._read[key] = (text, tuple(tokens + [w for w in heard if w not in tokens]))
            if len(self._read) > READ_KEPT:
                self._read.popitem(last=False)
        return found[0], list(found[1])

    # -- scoring -----------------------------------------------------------------------------------

    def _scope(self, org_id: int | None) -> tuple[int | None, _Part, _Part | None]:
        """(cache key, deployment-wide part, the organisation's part or None) of an asker's scope."""
        own = self._part(org_id) if org_id is not None else None
        if own is None or not own.slots:
            return None, self._parts[None], None
        return org_id, self._parts[None], own

    def scope_size(self, org_id: int | None = None) -> int:
        """How many entries a question from `org_id` is scored against (the statistics' N)."""
        _, shared, own = self._scope(org_id)
        return len(shared) + (len(own) if own is not None else 0)

    def scope_version(self, org_id: int | None = None) -> tuple[int, int]:
        """Changes whenever the figures of `org_id`'s scope change (caches of derived figures check it)."""
        _, shared, own = self._scope(org_id)
        return shared.version, own.version if own is not None else -1

    def stats(self) -> dict[str, float]:
        """Entries, vocabulary size, postings and average field lengths (in words)."""
        self.index_pending()
        n = len(self)
        parts = list(self._parts.values())
        return {
            "entries": n,
            "vocabulary": len(self._vocab),
            "postings": sum(len(p[0]) for part in parts for f in (part.q, part.a) for p in f.postings.values()),
            "avgdl_questions": sum(part.q.total for part in parts) / UNIT / n if n else 0.0,
            "avgdl_answer": sum(part.a.total for part in parts) / UNIT / n if n else 0.0,
        }

    @staticmethod
    def _idf_of(df: int, n_docs: int) -> float:
        return math.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))

    def _q_idf(self, tid: int, org_id: int | None) -> float:
        """Lucene idf of a token id in the question field of `org_id`'s scope."""
        key, shared, own = self._scope(org_id)
        cached = self._idf_cache(key)[1]
        w = cached.get(tid)
        if w is None:
            n = len(shared) + (len(own) if own is not None else 0)
            w = cached[tid] = self._idf_of(shared.q.df(tid) + (own.q.df(tid) if own is not None else 0), n)
        return w

    def _idf_cache(self, key: int | None) -> tuple[dict[str, float], dict[int, float]]:
        """The scope's remembered weights (forgotten whenever its entries change)."""
        cached = self._idf.get(key)
        if cached is None:
            cached = self._idf[key] = ({}, {})
            if len(self._idf) > MAX_SCOPES_CACHED:
                self._idf.popitem(last=False)
        return cached

    def idf(self, token: str, org_id: int | None = None) -> float:
        """The token's weight in a match in `org_id`'s scope: idf in the question field + answer_weight ×
        idf in the answer field (Lucene idf; a token no entry has gets the idf of df = 0)."""
        key, shared, own = self._scope(org_id)
        cached = self._idf_cache(key)[0]
        w = cached.get(token)
        if w is None:
            n = len(shared) + (len(own) if own is not None else 0)
            tid = self._vocab.get(token, -1)
            q_df = shared.q.df(tid) + (own.q.df(tid) if own is not None else 0)
            a_df = shared.a.df(tid) + (own.a.df(tid) if own is not None else 0)
            w = cached[token] = self._idf_of(q_df, n) + self.answer_weight * self._idf_of(a_df, n)
        return w

    def field_uses(self, token: str, org_id: int | None = None, answers: bool = True) -> int:
        """How many fields (questions + tags, answer: two per entry) of `org_id`'s scope use the token;
        without `answers`, how many entries have it in their questions (variants and tags too)."""
        tid = self._vocab.get(token)
        if tid is None:
            return 0
        _, shared, own = self._scope(org_id)
        parts = (shared, own) if own is not None else (shared,)
        return sum(f.df(tid) for part in parts for f in ((part.q, part.a) if answers else (part.q,)))

    def question_uses(self, token: str, org_id: int | None = None) -> int:
        """How many entries of `org_id`'s scope have the token in their questions (variants and tags too)."""
        return self.field_uses(token, org_id, answers=False)

    def max_score(self, tokens: Iterable[str], org_id: int | None = None) -> float:
        """Σ idf over the distinct tokens: the score of an average-length entry holding each once."""
        return sum(self.idf(t, org_id) for t in dict.fromkeys(tokens))

    def _contribution(self, tid: int, org_id: int | None) -> tuple[_Contribution, _Contribution] | None:
        """The slots a token scores in each part of `org_id`'s scope (deployment-wide, own) and their BM25
        contributions over both fields, question field first (cached)."""
        return self._contributions([tid], org_id)[0]

    def _contributions(self, tids: Sequence[int], org_id: int | None
                       ) -> list[tuple[_Contribution, _Contribution] | None]:
        """`_contribution` of each token id, those not cached worked out together: per part, their
        postings (each token's question field, then its answer field) are gathered into one array and
        scored in one pass, element by element as one token at a time would be (the same floats)."""
        key, shared, own = self._scope(org_id)
        cache = self._cache
        out: list[tuple[_Contribution, _Contribution] | None] = [None] * len(tids)
        missing: list[int] = []
        for i, tid in enumerate(tids):
            got = cache.get((key, tid))
            if got is None:
                missing.append(i)
            else:
                cache.move_to_end((key, tid))
                out[i] = got
        if not missing:
            return out
        parts = (shared, own) if own is not None else (shared,)
        n = sum(len(part) for part in parts)
        k1p1 = self.k1 + 1.0
        answer_weight = self.answer_weight
        idf_of = self._idf_of
        # Per part: the gathered postings and, per run (a token's postings in one field), its coefficient
        # (field weight × idf × (k1 + 1)), length and field; each token's first and last element.
        gathered = [_Gathered() for _ in parts]
        q_postings = [part.q.postings for part in parts]
        a_postings = [part.a.postings for part in parts] if answer_weight > 0 else []
        for i in missing:
            tid = tids[i]
            for g in gathered:
                g.starts.append(len(g.slots))
            for f, weight, by_part in ((0, 1.0, q_postings), (1, answer_weight, a_postings)):
                if not by_part:
                    continue
                found = [p.get(tid) for p in by_part]
                df = sum(len(p[0]) for p in found if p is not None)
                if df == 0:
                    continue
                coef = weight * idf_of(df, n) * k1p1
                for g, p in zip(gathered, found, strict=True):
                    if p is not None:
                        g.add(p, coef, f)
            for g in gathered:
                g.ends.append(len(g.slots))
        scored: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.float64]]] = []
        for part, g in zip(parts, gathered, strict=True):
            if not g.slots:
                scored.append((_NO_SLOTS, _NO_VALUES))
                continue
            size = len(part.docs)
            norms = [part.q.norms(self.k1, sum(x.q.total for x in parts) / UNIT / n if n else 1.0, size)]
            if answer_weight > 0:
                norms.append(part.a.norms(self.k1, sum(x.a.total for x in parts) / UNIT / n if n else 1.0, size))
            slots = np.frombuffer(g.slots, dtype=np.int32)
            tf = np.frombuffer(g.units, dtype=np.uint16) / UNIT
            runs = np.array(g.lengths, dtype=np.intp)
            if len(norms) > 1 and any(g.fields):
                norm = np.concatenate(norms)[slots + np.repeat(np.array(g.fields, dtype=np.intp) * size, runs)]
            else:
                norm = norms[0][slots]
            scored.append((slots, np.repeat(np.array(g.coefs, dtype=np.float64), runs) * tf / (tf + norm)))
        for at, i in enumerate(missing):
            joined: list[_Contribution] = []
            for g, (slots, values) in zip(gathered, scored, strict=True):
                start, end = g.starts[at], g.ends[at]
                joined.append((slots[start:end].copy(), values[start:end].copy()) if end > start
                              else (_NO_SLOTS, _NO_VALUES))
            if len(joined) == 1:
                joined.append((_NO_SLOTS, _NO_VALUES))
            if not len(joined[0][0]) and not len(joined[1][0]):
                continue
            result = (joined[0], joined[1])
            tid = tids[i]
            cache[(key, tid)] = result
            self._cache_tids.setdefault(key, set()).add(tid)
            self._cached += len(result[0][0]) + len(result[1][0])
            out[i] = result
        while self._cached > CACHE_POSTINGS and len(cache) > 1:
            (old_key, old_tid), ((shared_slots, _), (own_slots, _)) = cache.popitem(last=False)
            self._cache_tids[old_key].discard(old_tid)
            self._cached -= len(shared_slots) + len(own_slots)
        return out

    def _scores(self, tokens: Sequence[str], org_id: int | None
                ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None] | None:
        """Scores per slot of the deployment-wide part and of the organisation's part (None when it has
        none, or when no token is indexed); only the postings of the query tokens are read. Each slot's
        sum runs in token order, question field first, whatever the parts."""
        vocab = self._vocab
        tids = [vocab[t] for t in tokens if t in vocab]
        parts = [c for c in self._contributions(tids, org_id) if c is not None]
        if not parts:
            return None
        _, shared, own = self._scope(org_id)
        out: list[npt.NDArray[np.float64]] = []
        for i, part in enumerate((shared, own)):
            if part is None:
                continue
            got = [p[i] for p in parts if len(p[i][0])]
            if not got:
                out.append(np.zeros(len(part.docs), dtype=np.float64))
                continue
            slots = got[0][0] if len(got) == 1 else np.concatenate([g[0] for g in got])
            values = got[0][1] if len(got) == 1 else np.concatenate([g[1] for g in got])
            out.append(np.bincount(slots, weights=values, minlength=len(part.docs)).astype(np.float64, copy=False))
        return out[0], out[1] if own is not None else None

    def _hidden(self, shared: _Part, own: _Part) -> npt.NDArray[np.intp]:
        """The deployment-wide slots that the organisation's entries of the same id replace."""
        key = (shared.version, own.version)
        if own.hidden is None or own.hidden[0] != key:
            hidden = [slot for entry_id in own.slots if (slot := shared.slots.get(entry_id)) is not None]
            own.hidden = (key, np.array(hidden, dtype=np.intp))
        return own.hidden[1]

    @staticmethod
    def _top(scores: npt.NDArray[np.float64], k: int) -> npt.NDArray[np.intp]:
        """The slots scoring > 0 among the top k, and every slot tied with the k-th."""
        cand = np.flatnonzero(scores > 0)
        if len(cand) > k:
            kth = scores[cand[np.argpartition(-scores[cand], k - 1)[k - 1]]]
            cand = cand[scores[cand] >= kth]
        return cand

    def _rank(self, tokens: Sequence[str], k: int, org_id: int | None) -> list[Candidate]:
        """The top k of what `org_id` may see, by score (an organisation's own entries × ORG_BOOST, or
        × ORG_BOOST_LOCAL for a question after a local detail),
        then id: the deployment-wide entries, less those the organisation replaced, and its own."""
        tokens = list(dict.fromkeys(tokens))
        if not tokens or not self._size or k <= 0:
            return []
        # One message is ranked several times (the lexical decision, then with the encoder; its asking
        # end; its parts): the last few rankings are remembered while the scope is unchanged.
        key = (tuple(tokens), k, org_id, self.scope_version(org_id))
        remembered = self._ranked_seen.get(key)
        if remembered is not None:
            return list(remembered)
        ranking = self._rank_now(tokens, k, org_id)
        self._ranked_seen[key] = tuple(ranking)
        if len(self._ranked_seen) > READ_KEPT:
            self._ranked_seen.popitem(last=False)
        return ranking

    def _rank_now(self, tokens: list[str], k: int, org_id: int | None) -> list[Candidate]:
        found = self._scores(tokens, org_id)
        if found is None:
            return []
        shared_scores, own_scores = found
        _, shared, own = self._scope(org_id)
        boost = ORG_BOOST_LOCAL if LOCAL_DETAIL_WORDS.intersection(tokens) else ORG_BOOST
        ranked: list[tuple[float, str, _Doc, float]] = []
        if own is not None and own_scores is not None:
            hidden = self._hidden(shared, own)
            if len(hidden):
                shared_scores[hidden] = 0.0  # (a fresh array) replaced here by the organisation's own
            for slot in self._top(own_scores, k).tolist():
                doc = own.docs[slot]
                assert doc is not None
                s = float(own_scores[slot])
                ranked.append((s * boost, doc.entry.id, doc, s))
        for slot in self._top(shared_scores, k).tolist():
            doc = shared.docs[slot]
            assert doc is not None
            s = float(shared_scores[slot])
            ranked.append((s, doc.entry.id, doc, s))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        n = len(shared) + (len(own) if own is not None else 0)
        wanted = {tid: self._idf_of(shared.q.df(tid) + (own.q.df(tid) if own is not None else 0), n)
                  for t in tokens if (tid := self._vocab.get(t)) is not None}
        return [self._candidate(doc, s, wanted) for _, _, doc, s in ranked[:k]]

    def _candidate(self, doc: _Doc, score: float, wanted: Mapping[int, float]) -> Candidate:
        e = doc.entry
        best_i, _ = doc.closest(wanted, e.shown, once=True)
        question = e.questions[best_i] if e.questions else e.id
        return Candidate(e.id, question, score, e.org_id)

    def _doc(self, candidate: Candidate) -> _Doc:
        return self._parts[candidate.org_id].doc(candidate.id)

    def _is_phrasing(self, candidate: Candidate, tokens: Sequence[str]) -> bool:
        """Is the question one of the entry's own phrasings (same words)?"""
        wanted = {self._vocab.get(t, -1) for t in tokens}
        return any(p == wanted for p in self._doc(candidate).phrasings())

    def asks_locally(self, text: str, tokens: Sequence[str], org_id: int | None = None) -> bool:
        """Does the question ask after a detail only her village knows (LOCAL_ASK_WORDS: a date, a place,
        this year's quota, 本村)? In a long message, only the part that asks counts (`asking_end`):
        镇上盖了房 or 我们村的妇女主任 in her story is not what she asks after."""
        tail = asking_end(text)
        asked = tokens if tail is None else self.query_tokens(tail, org_id)[1]
        if "今年" in asked and THIS_YEAR_OF_AGE.search(tail if tail is not None else text):
            asked = [t for t in asked if t != "今年"]
        return not LOCAL_ASK_WORDS.isdisjoint(asked) or (
            not VILLAGE_WORDS.isdisjoint(asked) and not WHO_WORDS.isdisjoint(asked))

    def _on_topic(self, candidate: Candidate, tokens: Iterable[str]) -> bool:
        """Does the entry share at least one non-generic word with the question?"""
        doc = self._doc(candidate)
        for t in tokens:
            tid = self._vocab.get(t)
            if tid is not None and t not in GENERIC_WORDS and doc.has_term(tid):
                return True
        return False

    # -- queries -----------------------------------------------------------------------------------

    def search(self, query: str, k: int = 3, org_id: int | None = None) -> list[Candidate]:
        """Top-k entries for `query` visible to `org_id` (deployment-wide + that organisation's), as the
        decision orders them (BM25, then `rerank`)."""
        text, tokens = self.query_tokens(query, org_id)
        return self.ranked(text, tokens, k, org_id)

    def local_counterpart(self, entry_id: str, org_id: int | None, least: float = 0.0) -> Entry | None:
        """An organisation's own entry on the matter of the deployment-wide entry `entry_id` (本村遇到家庭
        暴力首先找谁 for where to get help): the first of its entries that is `entry_id`'s twin (`twin`, at
        least `least` likely; BM25's first three looked at first, so only a few are re-ranked). None
        without one, or where the organisation keeps its own version under the same id (that one is
        shown instead)."""
        if org_id is None or self.get(entry_id, org_id) is not None or self.get(entry_id, None) is None:
            return None
        key = (entry_id, org_id, least, self.scope_version(org_id))
        if key in self._counterpart_seen:
            return self._counterpart_seen[key]
        found: Entry | None = None
        for own in self.entries_of(org_id):
            if not own.questions:
                continue
            nearest = self.search_tokens(self.query_tokens(own.questions[0], None)[1], 3, None)
            if all(c.id != entry_id for c in nearest):
                continue
            twin = self.twin(own.id, org_id)
            if twin is not None and twin[0] == entry_id and twin[1] >= least:
                found = own
                break
        if len(self._counterpart_seen) > READ_KEPT:
            self._counterpart_seen.clear()
        self._counterpart_seen[key] = found
        return found

    def twin(self, entry_id: str, org_id: int) -> tuple[str, float] | None:
        """The deployment-wide entry an organisation's own entry is the village's version of, and how
        likely: the first of the decision's ranking of the deployment-wide entries for its first
        question (本镇2025年两癌免费筛查的时间 → two-cancers-screening). Remembered per scope version."""
        own = self.get(entry_id, org_id)
        if own is None or own.org_id is None or not own.questions:
            return None
        key = (entry_id, org_id, self.scope_version(org_id))
        if key in self._twin_seen:
            return self._twin_seen[key]
        text, tokens = self.query_tokens(own.questions[0], None)
        first = self.ranked(text, tokens, 1, None)
        found = (first[0].id, first[0].likely if first[0].likely is not None else 0.0) if first else None
        if len(self._twin_seen) > TWINS_KEPT:
            self._twin_seen.clear()
        self._twin_seen[key] = found
        return found

    def _twin_at(self, shipped_id: str, candidates: Sequence[Candidate], org_id: int) -> int | None:
        """Where among `candidates`' second and third is the village's version (`twin`, at TWIN_LIKELY) of
        the deployment-wide `shipped_id`."""
        for i in (1, 2):
            if i < len(candidates) and candidates[i].org_id is not None:
                twin = self.twin(candidates[i].id, org_id)
                if twin is not None and twin[0] == shipped_id and twin[1] >= TWIN_LIKELY:
                    return i
        return None

    def village_version(self, best: Entry | None, candidates: Sequence[Candidate], org_id: int | None) -> Entry | None:
        """The village's own version (`twin`, at TWIN_LIKELY) of the deployment-wide entry `best`, where the
        question ranks it second or third (`candidates`): 村里妇女之家能干啥 is answered with the women's
        home, and the village's opening hours follow."""
        if org_id is None or best is None or best.org_id is not None:
            return None
        at = self._twin_at(best.id, candidates, org_id)
        return self.get(candidates[at].id, org_id) if at is not None else None

    def village_entry_after(self, decision: Decision, org_id: int | None) -> Entry | None:
        """The village's own entry shown after a deployment-wide answer (handlers.faq): on where to turn
        for violence, its entry on that (`local_counterpart`: its people and phones), under the alarm and
        after the answer alike; on another matter answered directly, its version where the question ranks
        it too (`village_version`), or its version at all where the entry was chosen on a button (no
        candidates)."""
        if decision.kind == "danger":
            violent = decision.danger in VIOLENCE_CATEGORIES
            return self.local_counterpart(DV_HELP_ENTRY, org_id) if violent else None
        if decision.kind != "answer" or decision.best is None or decision.best.org_id is not None:
            return None
        if decision.best.id == DV_HELP_ENTRY or not decision.candidates:  # (no candidates: chosen on a button)
            return self.local_counterpart(decision.best.id, org_id, twin_bar(decision.best.id))
        return self.village_version(decision.best, decision.candidates, org_id)

    def village_twin_first(self, candidates: list[Candidate], org_id: int | None) -> list[Candidate]:
        """A question after a local detail (`asks_locally`) ranked to a deployment-wide entry first and the
        village's own version of it (`twin`, at TWIN_LIKELY) second or third: the village's first (俺村今年
        两癌啥时候查，找谁报名: its dates, not the national rule)."""
        if org_id is None or not candidates or candidates[0].org_id is not None:
            return candidates
        at = self._twin_at(candidates[0].id, candidates, org_id)
        return candidates if at is None else [candidates[at], *candidates[:at], *candidates[at + 1:]]

    def search_tokens(self, tokens: Sequence[str], k: int = 3, org_id: int | None = None) -> list[Candidate]:
        """BM25's top k for an already segmented query (`Tokenizer.tokens`), not re-ranked."""
        return self._rank(tokens, k, org_id)

    def ranked(self, text: str, tokens: Sequence[str], k: int, org_id: int | None = None,
               model: LogisticModel | None = None, *, semantic: bool = True,
               lexical: Sequence[dict[str, float]] | None = None) -> list[Candidate]:
        """BM25's first RERANK_K re-ranked by `rerank_model` → the first k. An entry sharing no word
        that matters with the question is not re-ranked (no encoder for chatter). `semantic`: False
        ranks without the encoder (with `rerank_model_lexical`); `lexical`: the candidates'
        `rerank_features(semantic=False)`, worked out already."""
        candidates = self._rank(tokens, max(k, RERANK_K), org_id)
        if len(candidates) < 2 or not self._on_topic(candidates[0], tokens):
            return candidates[:k]
        model = model or (rerank_model() if semantic else rerank_model_lexical())
        if model is None:
            return candidates[:k]
        if lexical is None:
            features = self.rerank_features(text, tokens, candidates, org_id, semantic=semantic)
        else:
            features = self.with_semantic(text, candidates, lexical) if semantic else list(lexical)
        local = self.asks_locally(text, tokens, org_id)
        own = OWN_LOGIT_LOCAL if local else OWN_LOGIT
        logits = [model.logit(f) + (own if c.org_id is not None else 0.0)
                  for f, c in zip(features, candidates, strict=True)]
        order = sorted(range(len(candidates)), key=lambda i: (-logits[i], i))
        reranked = [dataclasses.replace(candidates[i], likely=sigmoid(logits[i]),
                                        cosine=features[i]["emb"] * SIM_SD + SIM_MEAN if semantic else None)
                    for i in order[:max(k, 3)]]
        return (self.village_twin_first(reranked, org_id) if local else reranked)[:k]

    def with_semantic(self, text: str, candidates: Sequence[Candidate],
                      lexical: Sequence[dict[str, float]]) -> list[dict[str, float]]:
        """`lexical` (the candidates' `rerank_features(semantic=False)`) with the encoder's: each
        candidate's best cosine to the question (centred and scaled), against the best of them."""
        semantic = get_semantic()
        query = semantic.query(text)
        sims = [float(np.max(semantic.entry_rows(qs) @ query)) if (qs := self._doc(c).entry.questions) else 0.0
                for c in candidates]
        best_sim = max(sims)
        return [{**row, "emb": (sim - SIM_MEAN) / SIM_SD, "emb_gap": (sim - best_sim) / SIM_SD,
                 "emb_best": float(sim == best_sim)} for row, sim in zip(lexical, sims, strict=True)]

    def rerank_features(self, text: str, tokens: Sequence[str], candidates: Sequence[Candidate],
                        org_id: int | None = None, *, semantic: bool = True) -> list[dict[str, float]]:
        """Per candidate, what says it is the entry asked about: its BM25 score against the first's,
        how much of the question's known words its best phrasing covers (by idf) and how much of that
        phrasing they are, the shared characters, and (`semantic`) the encoder's cosine against the
        best among them."""
        _, shared_part, own_part = self._scope(org_id)
        wanted = {tid: self._q_idf(tid, org_id) for t in tokens
                  if self._known(t, shared_part, own_part) and (tid := self._vocab.get(t)) is not None}
        total = sum(wanted.values()) or 1.0
        asked = _bigrams(text)
        first = candidates[0].score
        local = self.asks_locally(text, tokens, org_id)
        # BM25 on the asking end alone (a story's question): each candidate's score there against the best
        tail = asking_end(text)
        tail_scores: dict[tuple[str, int | None], float] | None = None
        if tail is not None:
            found = self.search_tokens(self.query_tokens(tail, org_id)[1], RERANK_K, org_id)
            best_tail = found[0].score if found and found[0].score > 0 else 1.0
            tail_scores = {(f.id, f.org_id): f.score / best_tail for f in found}
        idf = dict(wanted)  # idf of the phrasings' words, looked up once per call
        rows = []
        for i, c in enumerate(candidates):
            doc = self._doc(c)
            q_terms, a_terms = _term_sets(doc)
            best_k, phrasing = doc.closest(wanted)
            covered = sum(v for t, v in wanted.items() if t in phrasing)
            phrasing_total = 0.0
            for tid in phrasing:
                value = idf.get(tid)
                if value is None:
                    value = idf[tid] = self._q_idf(tid, org_id)
                phrasing_total += value
            anywhere = sum(v for t, v in wanted.items() if t in q_terms or t in a_terms)
            answered = sum(v for t, v in wanted.items() if t in a_terms)
            # shared character pairs with the closest phrasing (the one shown as the entry's question)
            stored = _bigrams(doc.entry.questions[best_k]) if doc.entry.questions else frozenset()
            dice = 2 * len(asked & stored) / (len(asked) + len(stored)) if asked or stored else 0.0
            rows.append({
                "bm_rel": c.score / first if first > 0 else 0.0,
                "bm_log": math.log1p(c.score),
                "bm_first": float(i == 0),
                "cov_recall": covered / (phrasing_total or 1.0),
                "cov_prec": covered / total,
                "anywhere": anywhere / total,
                "in_answer": answered / total,
                "dice": dice,
                # a village's own entry (one phrasing, as a chair writes it, against a shipped entry's
                # dozen), and one asked after a local detail (哪天, 今年, 镇上)
                "own": float(c.org_id is not None),
                "own_local": float(c.org_id is not None and local),
                "tail_rel": (tail_scores.get((c.id, c.org_id), 0.0) if tail_scores is not None
                             else (c.score / first if first > 0 else 0.0)),
            })
        return self.with_semantic(text, candidates, rows) if semantic else rows

    def fit_features(self, query: str, candidates: Sequence[Candidate], tokens: Sequence[str],
                     org_id: int | None = None, *, semantic: bool = True) -> dict[str, float]:
        """What says whether the top candidate answers the question (see the module docstring), for a
        question asked from `org_id`; `semantic`: False leaves the encoder's features out."""
        local = self.asks_locally(query, tokens, org_id)
        top = candidates[0]
        doc = self._doc(top)
        denom = self.max_score(tokens, org_id)
        _, shared_part, own_part = self._scope(org_id)
        known = [t for t in tokens if self._known(t, shared_part, own_part)]
        known_denom = self.max_score(known, org_id)
        shared = sum(self.idf(t, org_id) for t in known if t not in GENERIC_WORDS and doc.has_term(self._vocab[t]))
        # the rarest word she asks about that the entry never mentions (奖金, 模板, 幼儿园: a fact it lacks)
        missing = max((self.idf(t, org_id) for t in known
                       if t not in GENERIC_WORDS and not doc.has_term(self._vocab[t])), default=0.0)
        wanted = {tid: self._q_idf(tid, org_id) for t in known if (tid := self._vocab[t]) is not None}
        # a content word no entry holds (奖金, 模板, 杭州): the base says nothing of it; rarer in general
        # Chinese (jieba's frequencies) says more
        unheard = max((self.tokenizer.general_rarity(t) for t in tokens if t not in GENERIC_WORDS and len(t) > 1
                       and not self._known(t, shared_part, own_part)), default=0.0)
        _, phrasing = doc.closest(wanted)
        phrasing_total = sum(self._q_idf(tid, org_id) for tid in phrasing)
        covered = sum(v for t, v in wanted.items() if t in phrasing)
        asked, stored = _bigrams(query), _bigrams(top.question)
        both = len(asked & stored)
        second = candidates[1].score if len(candidates) > 1 else 0.0
        features = {
            "confidence": min(top.score / denom, 2.0) if denom > 0 else 0.0,
            "coverage": min(top.score / known_denom, 2.0) if known_denom > 0 else 0.0,
            "shared": shared / known_denom if known_denom > 0 else 0.0,
            "margin": (top.score - second) / top.score if top.score > 0 else 0.0,
            "log_score": math.log1p(top.score),
            "known_share": len(known) / len(tokens) if tokens else 0.0,
            "log_words": math.log1p(len(tokens)),
            "phrasing_recall": covered / phrasing_total if phrasing_total > 0 else 0.0,
            "phrasing_precision": covered / sum(wanted.values()) if wanted else 0.0,
            "char_dice": 2 * both / (len(asked) + len(stored)) if asked or stored else 0.0,
            "char_contained": both / len(stored) if stored else 0.0,
            "own_entry": float(top.org_id is not None),
            # the re-ranking's belief in the first entry and its lead over the second (a neighbouring
            # entry nearly as likely: 保护令怎么申请 / 保护令管哪些事)
            "rerank_top": top.likely if top.likely is not None else 1.0,
            "rerank_lead": (top.likely - candidates[1].likely
                            if top.likely is not None and len(candidates) > 1 and candidates[1].likely is not None
                            else 1.0),
            "local_own": float(top.org_id is not None and local),
            "local_shipped": float(top.org_id is None and local),
            "one_word": float(len(tokens) == 1),
            "missing_rarest": missing / known_denom if known_denom > 0 else 0.0,
            "unheard_rarest": unheard,
            # how close she is in characters to a question the base does not answer (the encoder's
            # closeness needs its milliseconds; this does not), alone and against the first entry's
            **_uncovered_chars(query, 2 * both / (len(asked) + len(stored)) if asked or stored else 0.0,
                               own=top.org_id is not None),
            **self._tail_features(query, candidates[0], org_id),
            **(get_semantic().features(query, [self._doc(c).entry.questions for c in candidates],
                                       [c.cosine for c in candidates], own=top.org_id is not None)
               if semantic else {}),
        }
        return _with_story(features, len(query) >= STORY_CHARS and features["tail"] > 0)

    def _tail_features(self, query: str, top: Candidate, org_id: int | None) -> dict[str, float]:
        """Where a long message asks at its end (a story, then the question; voice-to-text without
        stops: its last TAIL_CHARS characters), does BM25 on the asking part alone put the same entry
        first, and how well does that entry score on it (against the part's summed idf)?"""
        tail = asking_end(query)
        if tail is None:
            return {"tail": 0.0, "tail_agree": 0.0, "tail_confidence": 0.0}
        tail_tokens = self.query_tokens(tail, org_id)[1]
        found = self.search_tokens(tail_tokens, 3, org_id)
        same = next((c for c in found if c.id == top.id and c.org_id == top.org_id), None)
        denom = self.max_score(tail_tokens, org_id)
        return {"tail": 1.0, "tail_agree": float(bool(found) and found[0].id == top.id),
                "tail_confidence": min(same.score / denom, 2.0) if same is not None and denom > 0 else 0.0}

    def decide(
        self, query: str, org_id: int | None = None, k: int = 3, *, private: bool = False,
        lenient: bool | Literal["private"] = False, model: LogisticModel | None = None, split: bool = True,
        danger_check: bool = True, always_encode: bool = False,
    ) -> Decision:
        """What to do with a question: answer, suggest (您是不是想问), decline, or danger (see the module
        docstring). `private`: a private chat, where danger is recognised on a lower bar (services.danger).
        `lenient`: the message is known to be a question for us (services.message_kind), so candidates are
        offered on a lower bar. `split`: look for a second question in the same message. `danger_check`:
        False for the question part of a danger message (read alone, without the alarm's words).
        `always_encode`: the encoder's features for every question (else, with the shipped model, only
        where the lexical models are not sure: `_scored`)."""
        shipped_model = answer_model()
        cascade = not always_encode and (model is None or model is shipped_model)
        model = model or shipped_model
        bars: bool | Literal["private"] = "private" if private else lenient  # which sure-decline bar
        text, tokens = self.query_tokens(query, org_id)
        parts = asked_parts(query) if split else []
        if len(parts) > 1:  # those of the message and its questions that need the encoder: in one call
            read = [self.query_tokens(part, org_id) for part in parts]
            get_semantic().prefetch([t for t, toks in [(text, tokens), *read]
                                     if not cascade or self._lexical(t, toks, toks, k, org_id, model, bars) is None])
        found = detect(query, private) if danger_check else None
        danger = found.category if found is not None else None
        violence = found is not None and found.category != "self_harm"
        candidates, right = self._scored(text, [*tokens, DANGER_TOPIC] if violence else tokens, tokens, k,
                                         org_id, model, bars if cascade else None)
        if not candidates or not tokens:
            return Decision("danger" if danger else "decline", None, [], danger=danger)
        top = candidates[0].score
        denom = self.max_score(tokens, org_id)
        confidence = top / denom if denom > 0 else 0.0
        second = candidates[1].score if len(candidates) > 1 else 0.0
        margin = (top - second) / top if top > 0 else 0.0
        best = self.get(candidates[0].id, candidates[0].org_id)
        # an entry sharing no word that matters with the question is not a candidate: no model (nor the
        # sentence encoder's few milliseconds) for it — most group chatter ends here
        on_topic = self._on_topic(candidates[0], tokens)
        right = right if on_topic else 0.0
        bar = model.thresholds["suggest_private" if lenient == "private" else
                               "suggest_lenient" if lenient else "suggest"]
        relevant = on_topic and right >= bar
        words = [t for t in tokens if not any(t != other and t in other for other in tokens)]  # sub-words aside
        names_one = len(words) > 1 or self.question_uses(words[0], org_id) == 1  # 12338, not 离婚 or 彩礼
        sure = relevant and ((right >= model.thresholds["answer"] and names_one)
                             or self._is_phrasing(candidates[0], tokens))
        if danger:
            # Violence: the help entries (ranked first) go with the alarm; otherwise only a real match.
            # An entry sure enough to be answered (where to stay tonight) is shown under the alarm too.
            if violence or relevant:
                # her own question is shown (or offered) only where she asks or wants something: an alarm
                # alone (他正在打我 我好怕) gets the help entry, not a guess at a question she did not ask
                asks = relevant and asks_or_wants(query)
                likely = asks and not sure and right >= model.thresholds.get("tentative", 1.0)
                if not sure and found is not None:
                    # her question after the alarm's words, read alone (他刚才又打我了 我想离婚孩子能归我吗:
                    # ranked with the violence, the custody entry was not first)
                    own = self._question_after(query, found.matched, org_id, private, model, cascade)
                    if own is not None and own.best is not None:
                        return Decision("danger", own.best, own.candidates, confidence, margin, danger, own.right,
                                        answered=own.kind == "answer", tentative=own.kind != "answer",
                                        relevant=True)
                return Decision("danger", best, candidates, confidence, margin, danger, right,
                                answered=sure and asks, tentative=likely, relevant=asks)
            return Decision("danger", None, [], confidence, margin, danger, right)
        whole: Decision
        if not relevant:
            whole = Decision("decline", None, [], confidence, margin, right=right)
        else:
            tentative = not sure and right >= model.thresholds.get("tentative", 1.0)
            long_shot = right < model.thresholds["suggest_lenient"]  # offered on the private bar only
            whole = Decision("answer" if sure else "suggest", best, candidates, confidence, margin, right=right,
                             tentative=tentative, long_shot=long_shot)
        return self._two_questions(parts, org_id, private, model, whole, cascade) if split else whole

    def _scored(self, text: str, rank_tokens: Sequence[str], tokens: Sequence[str], k: int, org_id: int | None,
                model: LogisticModel, cascade: bool | Literal["private"] | None) -> tuple[list[Candidate], float]:
        """The ranked candidates (ranked on `rank_tokens`) and P(the first answers the question), by
        `model`; with `cascade` (not None: the suggestion bar, as `_lexical` takes it), by the lexical
        models alone where they are sure: the encoder's milliseconds only for the questions it can
        decide otherwise."""
        rows = None
        if cascade is not None:
            read = self._lexical_read(text, rank_tokens, tokens, k, org_id)
            sure = self._lexical_sure(read, model, cascade)
            if sure is not None:
                return sure
            rows = read[2] if read is not None else None
        candidates = self.ranked(text, rank_tokens, k, org_id, lexical=rows)
        if not candidates or not self._on_topic(candidates[0], tokens):
            return candidates, 0.0
        return candidates, model.probability(self.fit_features(text, candidates, tokens, org_id))

    def _lexical(self, text: str, rank_tokens: Sequence[str], tokens: Sequence[str], k: int, org_id: int | None,
                 model: LogisticModel, lenient: bool | Literal["private"]) -> tuple[list[Candidate], float] | None:
        """(candidates, P) where the lexical decision is sure (`_lexical_sure`); None: the encoder decides."""
        return self._lexical_sure(self._lexical_read(text, rank_tokens, tokens, k, org_id), model, lenient)

    def _lexical_read(self, text: str, rank_tokens: Sequence[str], tokens: Sequence[str], k: int,
                      org_id: int | None) -> tuple[list[Candidate], float, list[dict[str, float]] | None] | None:
        """(candidates, P, the pool's lexical re-ranking features) by the models fitted without the
        encoder (`answer_model_lexical`); P is -1 where no entry shares a word that matters (nothing to
        decide). Remembered per message while the scope is unchanged; None without the lexical models."""
        lexical_model = answer_model_lexical()
        if lexical_model is None or "sure_answer" not in lexical_model.thresholds:
            return None
        key = (text, tuple(rank_tokens), k, org_id, self.scope_version(org_id))
        found = self._lexical_seen.get(key)
        if found is None:
            pool = self._rank(rank_tokens, max(k, RERANK_K), org_id)
            rows: list[dict[str, float]] | None = None
            if len(pool) > 1 and self._on_topic(pool[0], rank_tokens):
                rows = self.rerank_features(text, rank_tokens, pool, org_id, semantic=False)
            if pool and self._on_topic(pool[0], rank_tokens):
                candidates = self.ranked(text, rank_tokens, k, org_id, semantic=False, lexical=rows)
                right = (lexical_model.probability(self.fit_features(text, candidates, tokens, org_id, semantic=False))
                         if self._on_topic(candidates[0], tokens) else 0.0)
            else:
                candidates, right = pool[:k], -1.0
            found = self._lexical_seen[key] = (candidates, right, rows)
            if len(self._lexical_seen) > READ_KEPT:
                self._lexical_seen.popitem(last=False)
        return found

    @staticmethod
    def _lexical_sure(read: tuple[list[Candidate], float, list[dict[str, float]] | None] | None,
                      model: LogisticModel, lenient: bool | Literal["private"]) -> tuple[list[Candidate], float] | None:
        """`read`'s (candidates, P) where its P is at least "sure_answer" (as precise, held out by set, as
        the whole decision; at least `model`'s answer bar) or under "sure_decline" for the suggestion bar
        `lenient` picks (hardly a calibration question loses the right entry the whole decision would
        offer there; "private", a private chat: never, she is not declined without the encoder), or
        where there is nothing to decide (chatter never reaches the encoder); else None."""
        lexical_model = answer_model_lexical()
        if read is None or lexical_model is None:
            return None
        candidates, right, _ = read
        if right < 0:
            return candidates, 0.0
        bars = lexical_model.thresholds
        unsure = 0.0 if lenient == "private" else bars.get("sure_decline_lenient" if lenient else "sure_decline", 0.0)
        if right >= max(bars["sure_answer"], model.thresholds["answer"]) or right < unsure:
            return candidates, right
        return None

    def _question_after(self, query: str, matched: str, org_id: int | None, private: bool,
                        model: LogisticModel, cascade: bool) -> Decision | None:
        """What a danger message asks, decided alone without the words that raised the alarm: its last
        question where the message has parts (a story, then 离婚的话孩子能跟我吗), else what follows those
        words (他刚才又打我了我想离婚孩子能归我吗). An answer, or a suggestion likely enough to show (else None)."""
        tries = []
        pieces = question_parts(query, pauses=True)
        if len(pieces) > 1:
            last = pieces[-1] if len(pieces[-1]) >= TAIL_MIN_CHARS else pieces[-2] + pieces[-1]
            if matched not in squeeze(last):
                tries.append(last)
        said = squeeze(query)
        at = said.find(matched)
        if at >= 0:
            tries.append(said[at + len(matched):].lstrip("了啊呀呢的"))
        found: list[Decision] = []
        for asked in tries:
            if len(asked) < MIN_PART_CHARS or not asks_or_wants(asked):
                continue
            own = self.decide(asked, org_id, private=private, model=model, split=False, danger_check=False,
                              always_encode=not cascade)
            if own.kind == "answer" or (own.kind == "suggest" and own.tentative):
                found.append(own)
        return max(found, key=lambda d: (d.kind == "answer", d.right), default=None)

    def _two_questions(self, parts: Sequence[str], org_id: int | None, private: bool, model: LogisticModel,
                       whole: Decision, cascade: bool) -> Decision:
        """A message with two questions (我能离婚吗，孩子归谁？; `asked_parts`: each a question of its own,
        the story before it included): each part decided alone. The whole message's answer, and the
        parts answered directly, are answered in the order she asked (the whole's where a part points
        to the same entry, else first); a second entry is answered too when its part is answered
        directly, else offered as a button (up to two questions)."""
        if len(parts) < 2:
            return whole
        found: dict[tuple[str, int | None], Decision] = {}
        asked_at: dict[tuple[str, int | None], int] = {}
        if whole.kind == "answer" and whole.best is not None:
            found[(whole.best.id, whole.best.org_id)] = whole
        unanswered: str | None = None
        for i, part in enumerate(parts):
            d = self.decide(part, org_id, private=private, model=model, split=False, always_encode=not cascade)
            if d.kind == "decline" and unanswered is None and self._names_a_matter(part, org_id):
                unanswered = part
            if d.kind in ("answer", "suggest") and d.best is not None:
                key = (d.best.id, d.best.org_id)
                asked_at.setdefault(key, i)
                if key not in found or (d.kind == "answer" and found[key].kind != "answer"):
                    found[key] = d
        answered = sorted((d for d in found.values() if d.kind == "answer"),
                          key=lambda d: asked_at.get((d.best.id, d.best.org_id), -1) if d.best else -1)
        if not answered:
            return dataclasses.replace(whole, unanswered=unanswered) if whole.kind != "decline" else whole
        first = answered[0]
        rest = [d for d in found.values() if d is not first]
        rest.sort(key=lambda d: (d.kind != "answer", -d.right))
        if not rest:
            return dataclasses.replace(first if whole.kind != "answer" else whole, unanswered=unanswered)
        second = rest[0]
        assert second.best is not None
        return dataclasses.replace(first, also=(second.candidates[0], second.best, second.kind == "answer"),
                                   unanswered=unanswered)

    def _names_a_matter(self, part: str, org_id: int | None) -> bool:
        """A part that asks about a matter of its own (低保怎么申请: a neighbouring policy; 孩子上户口要啥
        材料: two words that are not question or filler words), not a follow-up that leans on the other
        question (一年多少, 要带啥材料)."""
        if not asks_or_wants(part):
            return False
        text, tokens = self.query_tokens(part, org_id)
        if any(policy in text for policy in NEIGHBOUR_POLICIES):
            return True
        words = [t for t in tokens if len(t) > 1 and t not in GENERIC_WORDS and self.tokenizer.is_word(t)]
        return len([w for w in words if not any(w != other and w in other for other in words)]) >= 2


_LATIN_WORD = re.compile(r"([a-z0-9]{2,})([\u3400-\u9fff]+)")  # a dictionary word led by Latin letters
_MARKUP = re.compile(r"</?[a-zA-Z][^<>]{0,40}>|&[a-z]{2,6};")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]+")
_LATIN_RUN = re.compile(r"[a-z]+(?: [a-z]+)*")


@lru_cache(maxsize=8192)
def readings(word: str) -> tuple[tuple[str, ...], ...]:
    """The toneless readings of a word: as a word (重婚 chong hun), and each character as it is mostly read
    alone (zhong hun: what a slip typed as 重昏 reads as). Rare readings (假 as ge, 大 as dai) are not
    among them: heard in them, 有个 was 有假 and 带呃 大额."""
    whole = tuple(lazy_pinyin(word))
    alone = tuple(syllable for ch in word for syllable in lazy_pinyin(ch))
    return (whole,) if alone == whole or len(alone) != len(word) else (whole, alone)


_NUMBERS = frozenset("零一二三四五六七八九十百千万两几半")
# Characters that are words of their own in almost any sentence: a window holding one is most often two
# words written right (能|贷 is not 能带, 我|嫁 not 我家, 出|了 not 除了, 来|的 not 来得), not a slip.
_FUNCTION_CHARS = frozenset("我你他她它咱俺的地得了着过是在就还也都又才再只个不没别很太能会该要想说来去到上下后把被给让"
                            "这那吗呢吧啊哪啥咯嘞哩呀哦嘛噻撒啦咧")


def _heard_exactly(spelled: str, syllables: Sequence[str], word: str) -> bool:
    """Is `spelled` (read as `syllables`) `word` written with other characters of exactly its sound (no
    fuzzy merge: 四个月 is not 十个月), keeping every number it writes (两爱 → 两癌, never 三 → 山), with no
    character that is a word of its own (`_FUNCTION_CHARS`)?"""
    return (len(word) == len(spelled) and tuple(syllables) in readings(word)
            and all(w == c for w, c in zip(word, spelled, strict=True) if c in _NUMBERS or w in _NUMBERS)
            and not any(c in _FUNCTION_CHARS for c in spelled))


def _written_as_heard(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """`text` with each window heard as one word of ours written as that word (两爱筛查 → 两癌筛查):
    longest windows first, none overlapping one already taken."""
    taken = bytearray(len(text))
    chosen = []
    for start, end, word in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):
        if not any(taken[start:end]):
            taken[start:end] = b"\x01" * (end - start)
            chosen.append((start, end, word))
    out = list(text)
    for start, end, word in chosen:
        out[start:end] = [""] * (end - start)
        out[start] = word
    return "".join(out)


# Adverbs that lead a verb (也算, 老是, 先找, 不干, 就分): two characters starting with one are read as
# written, not heard as a word of ours that sounds the same (叶酸, 老师, 纠纷 on the development sets),
# unless the word differs only in that first character (也酸 → 叶酸).
_ADVERB_LEADS = frozenset("也都还就又才再只却便总老常先刚已别不没很太更最")
# Sounds a speaker of another dialect often merges (模糊音), so either spelling finds the word.
_FUZZY_SOUNDS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("ing", "in"), ("eng", "en"), ("ang", "an"), ("l", "n"))


# The everyday words of a question, for typed pinyin only (`FaqIndex.spell_pinyin`): not entry words,
# so never heard in a typo of characters (`sound_alikes`).
_QUESTION_WORDS_TEXT = """
    怎么 怎么办 怎样 咋办 什么 为什么 多少 多少钱 多久 哪里 在哪 哪个 哪些 几天 几个月 几岁 能不能 可不可以
    可以 要不要 需要 申请 办理 条件 手续 材料 电话 免费 要钱 收费 有没有 是不是 还能 给不给 算不算 合法 违法
    规定 找谁 去哪 老公 孩子 女儿 儿子 婆婆 妇联 村里 单位 老板 法院 派出所 报警 离婚 结婚 怀孕 生孩子
"""


@lru_cache(maxsize=1)
def _question_words() -> dict[str, list[str]]:
    table: dict[str, list[str]] = {}
    for word in _QUESTION_WORDS_TEXT.split():
        table.setdefault(sound_key(lazy_pinyin(word), ""), []).append(word)
    return table


_PINYIN = Pinyin()


@lru_cache(maxsize=8192)
def _run_syllables(run: str) -> tuple[str, ...]:
    """Toneless pinyin of a run of Chinese characters (pypinyin reads polyphones by their neighbours,
    so per run, not per character; the runs of a message's parts are those of the message). What
    `lazy_pinyin(run)` gives, word by word of pypinyin's own segmentation, each word's reading
    remembered: a new question's runs are new, its words mostly not (4× faster)."""
    return tuple(syllable for word in _PINYIN.seg(run) for syllable in _word_syllables(word))


@lru_cache(maxsize=16384)
def _word_syllables(word: str) -> tuple[str, ...]:
    return tuple(_PINYIN.lazy_pinyin(word))


def sound_key(syllables: Sequence[str], between: str = "-") -> str:
    """Toneless pinyin of a word, fuzzy sounds merged: 性扫扰 and 性骚扰 → "xin-sao-rao"."""
    return between.join(map(_fuzzy_syllable, syllables))


@lru_cache(maxsize=4096)
def _fuzzy_syllable(syllable: str) -> str:
    """A toneless syllable with fuzzy sounds merged (zh → z, ing → in …)."""
    key = syllable.lower()
    for spelled, same in _FUZZY_SOUNDS:
        key = key.replace(spelled, same)
    return key


# Where one question ends and another may begin: sentence ends, or 还有 / 另外 / 再问 ….
# A question form, marked or unmarked (吗, 咋办, 能不能, 退不退, 要不…不): `services.message_kind` reads
# messages with it, and a part of a message is answered on its own only when it has one.
ASKS = re.compile(
    r"[?？]|吗|呢|么|嘛|谁|哪|几|多少|多久|多长|多大|怎|咋|啥|什么|如何|为何|能否|是否|可否|有没有|会不会|要不要|能不能|可不可以"
    r"|行不行|算不算|该不该|给不给|管不管|退不退|分不分|要不|可以不|能不|行不|有不|是不|对不|算不|[要能给退分管办领查]\w{0,4}不$"
    r"|想问|问下|问一下|请问|想知道|咨询|请教|求助|帮帮|帮忙|求帮|求问|求解|谁知道|谁懂|怎么办|咋办|咋整|给个|告诉我"
    # 用不用, 还不还 (any A不A); 上学不, 有救助没 (a yes-no question's 不/没 at its end)
    r"|(?P<verb>\w)不(?P=verb)|\w不$|\w没(?:得|有)?$"
)

# What she wants done, said without a question form (我想申请保护令, 我要离婚): a danger message with it
# gets the entry for it under the alarm as a question would.
WANTS = re.compile(r"[想要](?:申请|离婚|起诉|告|报警|找|去|搬|住|走|办)")



def asks_or_wants(text: str) -> bool:
    """A question form (`ASKS`) or something she wants done (`WANTS`)."""
    folded = fold(text)
    return ASKS.search(folded) is not None or WANTS.search(folded) is not None


_QUESTION_BREAKS = re.compile(
    r"[？?。！!；;，,\n]+|还有就是|还有(?![没吗不么呢])|另外|再问一下|再问下|还想问一下|还想问|顺便问一下|顺便问下|顺便问")
_PAUSE = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")  # voice-to-text: a space between two characters
# Words that announce a question without asking one (我想问两个事): a part with only these joins the next
_ANNOUNCES = re.compile(r"想问问|想问|问问|问一下|问下|请问|想知道|咨询|请教|[两几]个事|[两几]件事|[两几]个问题")
MIN_PART_CHARS = 4
SPANS_KEPT = 256  # texts whose jieba words are remembered (a message, its parts, its asking end …)
TAIL_CHARS = 14  # a message without stops asks in about its last this many characters
# A story, then the question (a message this long that asks at its end): the decision weighs some of its
# features apart for these (`_with_story`), since the story's words dilute what a short question shows
# plainly (the calibration sets held out by set: at the same bar and precision, about 5 points more long stories
# answered directly)
STORY_CHARS = 40
STORY_FEATURES = ("rerank_top", "rerank_lead", "emb_top1", "emb_diff", "tail_agree", "tail_confidence", "coverage",
                  "confidence", "phrasing_recall", "phrasing_precision", "uncovered", "uncovered_gap", "log_words",
                  "char_dice", "missing_rarest")
TAIL_MIN_CHARS = 8  # the asking part of a message cut into parts: its last parts up to this many characters


def question_parts(query: str, pauses: bool = False) -> list[str]:
    """The message cut where a second question may begin (parts under MIN_PART_CHARS dropped; the last 4:
    a long story tells first and asks at the end); `pauses`: at a voice-to-text pause too."""
    parts = [p.strip(" ，,、") for p in _QUESTION_BREAKS.split(_PAUSE.sub("，", query) if pauses else query)]
    return [p for p in parts if len(p) >= MIN_PART_CHARS][-4:]


# One question about two things (巾帼文明岗和三八红旗手分别咋申报, 12338跟12348有啥区别): a question each
_EACH_OF_TWO = re.compile(
    r"^(?P<first>[^，,。？?\s]{2,12}?)(?:\s*[和跟与、及]\s*|\s+)(?P<second>[^，,。？?\s]{2,12}?)\s*"
    r"(?:(?:分别|各自|各)(?P<each>\S*)|(?P<compare>有\S{0,2}(?:区别|不一样|不同)\S*))$")


def asked_parts(query: str) -> list[str]:
    """The questions of a message: its parts (`question_parts`) joined up to each one that has a question
    form (备孕那会儿没吃叶酸，现在还能补领不 is one question; 离婚后孩子跟我，他一个月该给多少抚养费 too); a
    last piece without one joins the question before it. A and B asked together (A和B分别怎么申请) are two."""
    both = _EACH_OF_TWO.match(query.strip(" ？?。！!"))
    if both is not None:
        ask = both["compare"] if both["each"] is None else both["each"]
        return [both["first"] + ask, both["second"] + ask]
    groups: list[str] = []
    pending = ""
    for part in question_parts(query, pauses=True):
        pending = f"{pending}，{part}" if pending else part
        if ASKS.search(_ANNOUNCES.sub(" ", fold(part))) is not None:
            groups.append(pending)
            pending = ""
    if pending:
        if groups:
            groups[-1] = f"{groups[-1]}，{pending}"
        else:
            groups.append(pending)
    return groups


def asking_end(query: str) -> str | None:
    """The part of a long message that asks (a story, then the question): its last parts up to
    TAIL_MIN_CHARS characters (能分多少 alone says little), or the last TAIL_CHARS characters of a long
    message without stops (voice-to-text); None for a message that is one short question."""
    parts = question_parts(query)
    if len(parts) >= 2:
        tail = ""
        while parts and len(tail) < TAIL_MIN_CHARS:
            tail = parts.pop() + tail
        return tail if parts else None
    if len(query) >= 2 * TAIL_CHARS:
        return query[-TAIL_CHARS:]
    return None


def _with_story(features: dict[str, float], story: bool) -> dict[str, float]:
    """`features` with "story" and, for a long message asking at its end, a copy of STORY_FEATURES (those
    present) under "<name>_story", so the decision can weigh them apart (0 for any other message)."""
    features["story"] = float(story)
    for name in STORY_FEATURES:
        if name in features:
            features[f"{name}_story"] = features[name] if story else 0.0
    return features


@lru_cache(maxsize=16384)
def _bigrams(text: str) -> frozenset[str]:
    s = _NOISE.sub("", fold(text))
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


@lru_cache(maxsize=1)
def _not_covered_bigrams() -> tuple[dict[str, list[int]], list[int], list[str]]:
    """The not-covered questions (`faq_semantic.NOT_COVERED`) as character pairs: pair → the questions
    holding it, each question's number of pairs, and the set each came from."""
    from services.faq_semantic import NOT_COVERED

    lines = [json.loads(line) for line in NOT_COVERED.read_text(encoding="utf-8").splitlines()
             if line.strip()] if NOT_COVERED.exists() else []
    holders: dict[str, list[int]] = {}
    sizes: list[int] = []
    for i, line in enumerate(lines):
        pairs = _bigrams(normalise(str(line["q"])))
        sizes.append(len(pairs))
        for pair in pairs:
            holders.setdefault(pair, []).append(i)
    return holders, sizes, [str(line.get("from", "")) for line in lines]


def reload_not_covered_chars() -> None:
    """Read the not-covered list again when next needed (after it was rewritten)."""
    _not_covered_bigrams.cache_clear()
    _uncovered_best.cache_clear()


@lru_cache(maxsize=1024)
def _uncovered_best(text: str, left_out: str | None) -> float:
    holders, sizes, sources = _not_covered_bigrams()
    asked = _bigrams(text)
    shared: dict[int, int] = {}
    for pair in asked:
        for i in holders.get(pair, ()):
            shared[i] = shared.get(i, 0) + 1
    return max((2 * n / (len(asked) + sizes[i]) for i, n in shared.items()
                if left_out is None or sources[i] != left_out), default=0.0)


def _uncovered_chars(text: str, dice_first: float, own: bool) -> dict[str, float]:
    """The best character-pair Dice between `text` (normalised) and a question the base is known not
    to answer, and that less the first entry's (`dice_first`); kept apart for a village's own entry
    (a village may answer what the shipped base does not). While fitting, a set's own near misses are
    left out (`faq_semantic.NOT_COVERED_LEFT_OUT`)."""
    from services.faq_semantic import NOT_COVERED_LEFT_OUT

    best = _uncovered_best(text, NOT_COVERED_LEFT_OUT.get())
    suffix, other = ("_own", "") if own else ("", "_own")
    return {f"uncovered_chars{suffix}": best, f"uncovered_chars_gap{suffix}": best - dice_first,
            f"uncovered_chars{other}": 0.0, f"uncovered_chars_gap{other}": 0.0}


ANSWER_MODEL = "answer_model.json"


def answer_model() -> LogisticModel:
    """The shipped model of P(the top entry answers the question) (bench/faq_quality.py --fit)."""
    model = shipped(ANSWER_MODEL)
    if model is None:
        raise RuntimeError(f"services/faq_data/{ANSWER_MODEL} is missing: python -m bench.faq_quality --fit")
    return model


RERANK_MODEL = "rerank_model.json"


def rerank_model() -> LogisticModel | None:
    """The shipped model of P(this candidate is the entry asked about) (bench/faq_quality.py --fit);
    without it the decision keeps BM25's order."""
    return shipped(RERANK_MODEL)


# The same two models fitted without the encoder's features: a question they already decide surely
# (thresholds "sure_answer", "sure_decline" of the decision's model) skips the encoder's milliseconds.
RERANK_MODEL_LEXICAL = "rerank_model_lexical.json"
ANSWER_MODEL_LEXICAL = "answer_model_lexical.json"


def rerank_model_lexical() -> LogisticModel | None:
    return shipped(RERANK_MODEL_LEXICAL)


def answer_model_lexical() -> LogisticModel | None:
    return shipped(ANSWER_MODEL_LEXICAL)


_SHIPPED_INDEXES: dict[tuple[str, str], FaqIndex] = {}


def shipped_index() -> FaqIndex:
    """A fresh index of the shipped base (`load_shipped_entries`, default parameters). Built once per
    process for the same base text and segmentation, then cloned for every caller (each one changes its
    own): a process that starts several bots (the handler tests) builds it once."""
    tokenizer = get_tokenizer()
    key = (hashlib.sha256(_data_text("knowledge_base.jsonl").encode()).hexdigest(), tokenizer.signature)
    built = _SHIPPED_INDEXES.get(key)
    if built is None:
        built = _SHIPPED_INDEXES[key] = FaqIndex.build(load_shipped_entries(), tokenizer)
    return built.clone()
