"""Word and character n-gram TF-IDF features, computed with numpy instead of per-token Python.

Why not scikit-learn's `TfidfVectorizer`: classification throughput is the product's
bottleneck, and sklearn builds every n-gram as a Python string and looks it up in a
Python dict, one at a time. On ~300-character tickets a word (1-2) + char_wb (2-5)
union manages about 2k texts/s here. This featurizer computes the same kind of
features for a whole batch at once:

1. Each text is lower-cased, its whitespace collapsed to single spaces and padded with a
   space at both ends (C-level `str` methods), the batch joined with NUL separators and
   viewed as one array of code points (UTF-32).
2. Every substring gets a 64-bit polynomial hash from prefix sums modulo 2**64
   (`hash(a, b) = (P[b] - P[a]) * Q**-a`), so any span - a char n-gram, a word - is
   hashed in O(1) with vectorised integer arithmetic, then passed through a
   splitmix64 finaliser salted by kind and length.
3. The learned vocabulary is the sorted array of kept hashes; a batch is mapped to
   columns with `searchsorted`, counted into a CSR matrix, weighted by sublinear tf
   and idf, and L2-normalised per block (word block, char block), like a
   `FeatureUnion` of two `TfidfVectorizer`s.

Char n-grams follow sklearn's `char_wb` rule (n-grams inside words padded with one
space), word tokens its default `\\b\\w\\w+\\b`. Hashes are 64-bit, so with a few
million distinct n-grams a collision has a probability around 1e-7 and costs one
shared column; vocabularies store hashes, not strings, so they are small, but a
column cannot be printed back as text.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

_U64 = np.uint64
_Q = 0x9E3779B97F4A7C15          # odd, so invertible modulo 2**64
_Q_INV = pow(_Q, -1, 1 << 64)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)
_SALT_CHAR = 0x243F6A8885A308D3
_SALT_WORD = 0x13198A2E03707344
_SALT_BIGRAM = 0xA4093822299F31D0
_SEP = 0      # between texts
_SPACE = 32

_word_table: np.ndarray | None = None


def _word_chars() -> np.ndarray:
    """Lookup table: is code point i a regex `\\w` character (for the BMP)? Built once, ~10 ms."""
    global _word_table
    if _word_table is None:
        _word_table = np.fromiter(
            (chr(i).isalnum() or i == 95 for i in range(65536)), dtype=bool, count=65536)
    return _word_table


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads the polynomial hash over all 64 bits."""
    z = (z ^ (z >> _U64(30))) * _MIX1
    z = (z ^ (z >> _U64(27))) * _MIX2
    return z ^ (z >> _U64(31))


def normalise(text: str) -> str:
    """Lower-case, collapse whitespace, pad with one space: the string n-grams are cut from.

    NUL separates the texts of a batch (`_SEP`), so a NUL inside a text counts as a space.
    """
    return " " + " ".join(text.lower().replace("\0", " ").split()) + " "


class _Grams(NamedTuple):
    """Hashed n-grams of a batch, each block ordered by the text it came from."""

    word_doc: np.ndarray
    word_hash: np.ndarray
    char_doc: np.ndarray
    char_hash: np.ndarray


class _HashIndex:
    """Open-addressing (linear probing) table: n-gram hash -> column, probed for a whole array.

    One random read per n-gram on average instead of `searchsorted`'s ~20: the lookup
    is the hottest step of `transform`. Load factor <= 0.5 keeps probe chains short.
    """

    def __init__(self, vocab: np.ndarray):
        bits = max(4, int(2 * vocab.size).bit_length())
        size = 1 << bits
        self.shift = _U64(64 - bits)
        self.mask = size - 1
        self.keys = np.zeros(size, dtype=_U64)
        self.cols = np.full(size, -1, dtype=np.int32)
        slot = (vocab >> self.shift).astype(np.intp)
        pending = np.arange(vocab.size)
        while pending.size:
            s = slot[pending]
            free = self.cols[s] == -1
            # Several keys may want one free slot: the first takes it, the rest move on.
            won_slots, first = np.unique(s[free], return_index=True)
            winners = pending[free][first]
            self.keys[won_slots] = vocab[winners]
            self.cols[won_slots] = winners
            placed = np.zeros(vocab.size, dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Column of each hash, -1 where it is not in the vocabulary."""
        slot = (hashes >> self.shift).astype(np.intp)
        cols = self.cols[slot]
        hit = self.keys[slot] == hashes
        out = np.where(hit, cols, -1).astype(np.int32, copy=False)
        # Only hashes whose home slot holds another key probe further (few, at load <= 0.5).
        todo = np.flatnonzero(~hit & (cols != -1))
        h, s = hashes[todo], slot[todo]
        while todo.size:
            s = (s + 1) & self.mask
            cols = self.cols[s]
            hit = self.keys[s] == h
            out[todo[hit]] = cols[hit]
            more = ~hit & (cols != -1)
            todo, h, s = todo[more], h[more], s[more]
        return out


class NgramFeaturizer:
    """TF-IDF over word n-grams and char_wb n-grams, fitted and applied batch-wise in numpy.

    Settings are constructor arguments; what `fit` learns ends in `_`:
    `word_vocab_`/`char_vocab_` (sorted uint64 hashes; a hash's column is its rank,
    word columns first) and `idf_` (one weight per column).
    """

    #: Characters hashed at once (texts are grouped up to this): bounds the temporary
    #: arrays (a few hundred bytes per character) and keeps them near the cache.
    chunk_chars = 100_000

    def __init__(self, word_ngrams: tuple[int, int] = (1, 2), char_ngrams: tuple[int, int] = (2, 5),
                 min_df: int = 1, max_word_features: int | None = 200_000,
                 max_char_features: int | None = 300_000, sublinear_tf: bool = True,
                 fold_digits: bool = True, char_wb: bool = True, dtype: str = "float32"):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.sublinear_tf = sublinear_tf
        self.fold_digits = fold_digits
        self.char_wb = char_wb
        self.dtype = dtype

    # -- hashing ---------------------------------------------------------------------------
    def _grams(self, texts: Sequence[str]) -> _Grams:
        """Hash every word n-gram and char_wb n-gram of `texts` (doc ids local to the batch)."""
        lo, hi = self.char_ngrams
        # hi - 1 trailing separators: every (position, n) pair below is a valid slice.
        joined = "\0" + "\0".join(map(normalise, texts)) + "\0" * hi
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype="<u4")
        if self.fold_digits:
            # Ticket text is full of ids, times and phone numbers: their shape
            # ("port-00000", "00:00 utc") generalises, their exact digits do not.
            codes = np.where((codes - 48) <= 9, np.uint32(48), codes)
        n = codes.size
        # Prefix sums of c[j] * Q**j and the inverse powers, modulo 2**64 (numpy wraps).
        qpow = np.full(n, _Q, dtype=_U64)
        qpow[0] = 1
        np.cumprod(qpow, out=qpow)
        qinv = np.full(n + 1, _Q_INV, dtype=_U64)
        qinv[0] = 1
        np.cumprod(qinv, out=qinv)
        prefix = np.zeros(n + 1, dtype=_U64)
        np.cumsum(codes * qpow, out=prefix[1:])

        def span(starts: np.ndarray, ends: np.ndarray, salt: int) -> np.ndarray:
            """Hash of codes[starts:ends], the same wherever the span stands."""
            h = (prefix[ends] - prefix[starts]) * qinv[starts]
            return _mix(h + (ends - starts).astype(_U64) * _U64(0x100000001B3) + _U64(salt))

        is_sep = codes == _SEP
        doc_of = np.cumsum(is_sep, dtype=np.int32) - 1     # text index of each position
        seps = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(is_sep, out=seps[1:])
        spaces = np.zeros(n + 1, dtype=np.int32)
        np.cumsum(codes == _SPACE, out=spaces[1:])

        # Char n-grams as an (n - hi + 1, K) grid, raveled row-major: ordered by position,
        # hence by text, which lets `transform` build CSR rows without sorting.
        m = n - hi + 1
        starts = np.arange(m)[:, None]
        ends = starts + np.arange(lo, hi + 1)[None, :]
        # char_wb: no separator anywhere in the n-gram, no space except at its two ends.
        ok = seps[ends] == seps[starts]
        if self.char_wb:
            ok &= spaces[ends - 1] == spaces[starts + 1]
        rows, ks = np.nonzero(ok)
        char_hash = span(rows, ends[rows, ks], _SALT_CHAR)
        char_doc = doc_of[rows]

        table = _word_chars()
        is_word = np.zeros(n + 2, dtype=np.int8)
        is_word[1:-1] = table[np.minimum(codes, 65535)] & (codes < 65536)
        edges = np.diff(is_word)
        w_start = np.flatnonzero(edges == 1)
        w_end = np.flatnonzero(edges == -1)
        long_enough = (w_end - w_start) >= 2                   # sklearn's \b\w\w+\b
        w_start, w_end = w_start[long_enough], w_end[long_enough]
        w_doc = doc_of[w_start]
        w_hash = span(w_start, w_end, _SALT_WORD)
        wlo, whi = self.word_ngrams
        docs, hashes = [], []
        if wlo <= 1:
            docs.append(w_doc)
            hashes.append(w_hash)
        h = w_hash
        for k in range(2, whi + 1):
            # A k-gram combines the hashes of k consecutive tokens of one text.
            if w_hash.size < k:
                break
            h = _mix(h[:-1] * _U64(_Q) + w_hash[k - 1:] + _U64(_SALT_BIGRAM + k))
            first_doc = w_doc[: w_doc.size - k + 1]
            same = first_doc == w_doc[k - 1:]
            if k >= wlo:
                docs.append(first_doc[same])
                hashes.append(h[same])
        if len(docs) > 1:
            # Interleave unigrams and bigrams by text (stable: keeps position order).
            word_doc = np.concatenate(docs)
            order = np.argsort(word_doc, kind="stable")
            word_doc, word_hash = word_doc[order], np.concatenate(hashes)[order]
        elif docs:
            word_doc, word_hash = docs[0], hashes[0]
        else:
            word_doc, word_hash = np.empty(0, dtype=np.int32), np.empty(0, dtype=_U64)
        return _Grams(word_doc, word_hash, char_doc, char_hash)

    def _chunks(self, texts: Sequence[str]) -> Iterator[tuple[int, int, _Grams]]:
        """(offset, number of texts, grams) for consecutive groups of about `chunk_chars`."""
        start, total = 0, 0
        for i, t in enumerate(texts):
            total += len(t) + 2
            if total >= self.chunk_chars:
                yield start, i + 1 - start, self._grams(texts[start:i + 1])
                start, total = i + 1, 0
        if start < len(texts):
            yield start, len(texts) - start, self._grams(texts[start:])

    # -- fit -------------------------------------------------------------------------------
    @staticmethod
    def _select(docs: np.ndarray, hashes: np.ndarray, min_df: int,
                cap: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Keep hashes seen in >= min_df texts, at most `cap` of the most frequent.

        Returns the kept hashes (sorted) and their document frequencies.
        """
        order = np.lexsort((docs, hashes))
        h, d = hashes[order], docs[order]
        first = np.ones(h.size, dtype=bool)
        first[1:] = (h[1:] != h[:-1]) | (d[1:] != d[:-1])
        vocab, df = np.unique(h[first], return_counts=True)
        keep = df >= min_df
        vocab, df = vocab[keep], df[keep]
        if cap is not None and vocab.size > cap:
            # Highest document frequency first; ties by hash, so the cut is reproducible.
            top = np.sort(np.lexsort((vocab, -df))[:cap])
            vocab, df = vocab[top], df[top]
        return vocab, df

    def fit(self, texts: Sequence[str], y: object = None) -> NgramFeaturizer:
        """Learn the vocabularies and idf weights (smooth idf, as sklearn's default)."""
        texts = list(texts)
        wd, wh, cd, ch = [], [], [], []
        for offset, _, g in self._chunks(texts):
            wd.append(g.word_doc.astype(np.int64) + offset)
            wh.append(g.word_hash)
            cd.append(g.char_doc.astype(np.int64) + offset)
            ch.append(g.char_hash)
        cat = np.concatenate
        self.word_vocab_, wdf = self._select(cat(wd), cat(wh), self.min_df, self.max_word_features)
        self.char_vocab_, cdf = self._select(cat(cd), cat(ch), self.min_df, self.max_char_features)
        df = np.concatenate((wdf, cdf)).astype(np.float64)
        self.idf_ = (np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0).astype(self.dtype)
        self.__dict__.pop("_index", None)
        return self

    @property
    def n_features_(self) -> int:
        return int(self.word_vocab_.size + self.char_vocab_.size)

    # -- transform -------------------------------------------------------------------------
    def _tables(self) -> tuple[_HashIndex, _HashIndex]:
        """Hash tables over the vocabularies: derived, so built on first use, never pickled."""
        index = self.__dict__.get("_index")
        if index is None:
            index = (_HashIndex(self.word_vocab_), _HashIndex(self.char_vocab_))
            self._index = index
        return index

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_index", None)
        return state

    def transform(self, texts: Sequence[str], return_oov: bool = False
                  ) -> sp.csr_matrix | tuple[sp.csr_matrix, np.ndarray]:
        """TF-IDF rows (CSR, `dtype`), word block then char block, each L2-normalised.

        With `return_oov`, also the share of each text's word n-grams that are not in the
        vocabulary (1.0 for a text without words): a cheap "unlike the training data" signal.
        """
        texts = list(texts)
        parts = [self._transform_chunk(g, n) for _, n, g in self._chunks(texts)]
        if not parts:
            x, oov = sp.csr_matrix((0, self.n_features_), dtype=self.dtype), np.empty(0)
        elif len(parts) == 1:
            x, oov = parts[0]
        else:
            x = sp.vstack([p[0] for p in parts], format="csr")
            oov = np.concatenate([p[1] for p in parts])
        return (x, oov) if return_oov else x

    def _transform_chunk(self, g: _Grams, n_docs: int) -> tuple[sp.csr_matrix, np.ndarray]:
        word_index, char_index = self._tables()
        wcol = word_index.lookup(g.word_hash)
        ccol = char_index.lookup(g.char_hash)
        wfound, cfound = wcol >= 0, ccol >= 0
        wdoc, cdoc = g.word_doc[wfound], g.char_doc[cfound]
        wcount = np.bincount(wdoc, minlength=n_docs)
        wtotal = np.bincount(g.word_doc, minlength=n_docs)
        oov = 1.0 - wcount / np.maximum(wtotal, 1)
        ccount = np.bincount(cdoc, minlength=n_docs)
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(wcount + ccount, out=indptr[1:])
        # Both blocks are ordered by text: place each entry in its row directly
        # (word entries first in a row, then char), no COO round trip.
        indices = np.empty(indptr[-1], dtype=np.int32)
        wstart = np.cumsum(wcount) - wcount
        cstart = np.cumsum(ccount) - ccount
        indices[indptr[wdoc] + np.arange(wdoc.size) - wstart[wdoc]] = wcol[wfound]
        indices[indptr[cdoc] + wcount[cdoc] + np.arange(cdoc.size) - cstart[cdoc]] = (
            ccol[cfound] + self.word_vocab_.size)
        x = sp.csr_matrix((np.ones(indices.size, dtype=self.dtype), indices, indptr),
                          shape=(n_docs, self.n_features_))
        x.sum_duplicates()
        data = x.data
        if self.sublinear_tf:
            np.log(data, out=data)
            data += 1
        data *= self.idf_[x.indices]
        # L2 norm per (row, block): block 0 words, 1 chars.
        row_of = np.repeat(np.arange(n_docs), np.diff(x.indptr))
        key = row_of * 2 + (x.indices >= self.word_vocab_.size)
        norms = np.sqrt(np.bincount(key, weights=data * data, minlength=2 * n_docs))
        norms[norms == 0] = 1
        data /= norms[key].astype(self.dtype)
        return x, oov

    def fit_transform(self, texts: Sequence[str], y: object = None) -> sp.csr_matrix:
        return self.fit(texts).transform(texts)
