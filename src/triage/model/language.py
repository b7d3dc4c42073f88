"""The language of a ticket's text: an ISO 639-1 code (`en`, `de`, ...) or `other`.

Why py3langid (pinned in pyproject): it ships its model in the wheel (an LZMA'd npz,
read with `allow_pickle=False`: nothing downloaded, no code unpickled), depends only on
numpy, imports in ~0.3 s and is BSD-licensed. Measured here on the 5,130 EN/DE
tickets of `models/corpus` + `models/testset` (subject + body), py3langid 0.4.0 on the
first 200 characters is right on 98.9 % with no abstention; lingua-language-detector
2.1.1 99.5 % but ~10x slower per text and ~50 s to load its models; langdetect is
randomised unless seeded and slower still. With the `MIN_CONFIDENCE` of 0.3 below,
97.9 % are right, 1.6 % (terse one-liners, monitoring alerts) are `other` and 0.5 %
wrong (0.0: 1.1 % wrong; 0.5: 0.25 % wrong but 2.7 % `other`). A short or
symbol-only text is `other`, not a guess: a rule reading the language should not act
on noise.

The identifier reads the first `PREFIX_CHARS` characters: the greeting and first
sentence tell the language, and the cost stays bounded (~0.3-1.5 ms per text here).
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

#: Returned when the identifier is not sure, or the text has too few letters to tell.
OTHER = "other"
#: Characters of each text the identifier reads.
PREFIX_CHARS = 200
#: Below this normalised probability the answer is `other` (py3langid's own scale).
MIN_CONFIDENCE = 0.3
#: Fewer letters than this cannot name a language reliably.
MIN_LETTERS = 3

_identifier: Any = None
_lock = threading.Lock()


def _get() -> Any:
    """The py3langid identifier, loaded once per process (thread-safe)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                _identifier = LanguageIdentifier.from_model_file(
                    MODEL_FILE, norm_probs=True, min_confidence=MIN_CONFIDENCE)
    return _identifier


def identify_one(text: str) -> str:
    """The language code of one text, or `other`."""
    prefix = (text or "")[:PREFIX_CHARS]
    if sum(ch.isalpha() for ch in prefix) < MIN_LETTERS:
        return OTHER
    lang, _ = _get().classify(prefix)
    return OTHER if lang == "und" else str(lang)


def identify(texts: Sequence[str]) -> list[str]:
    """The language of each text (ISO 639-1 code, or `other`), in order."""
    return [identify_one(t) for t in texts]
