"""Prompt → weighted CLIP token chunks (spec §8.9): 75 tokens between start and end, padded to 77.

A token is an int id or a 1-D tensor (a textual-inversion vector); every token carries its weight.
"""

from __future__ import annotations

import functools
import string
from collections.abc import Callable
from pathlib import Path

from runtime.text.prompt import parse_weights

START, END = 49406, 49407
CHUNK_TOKENS = 75
CHUNK_LENGTH = CHUNK_TOKENS + 2
LONG_WORD = 8  # words at least this long are split across chunks instead of moved whole to the next one
EMBEDDING_PREFIX = "embedding:"
TOKENIZER_DIR = Path(__file__).with_name("tokenizer")

Token = tuple[object, float]
Chunk = list[Token]


@functools.lru_cache(maxsize=1)
def clip_tokenizer():
    """The CLIP BPE tokenizer from the files shipped in this package (never from a model hub)."""
    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(TOKENIZER_DIR), local_files_only=True)


def word_ids(word: str) -> list[int]:
    return clip_tokenizer()(word, add_special_tokens=False)["input_ids"]


def _embedding_word(word: str, lookup: Callable[[str], object | None]) -> tuple[list, str]:
    """Vectors of `embedding:<name>` plus text left over; trailing punctuation is retried as plain text."""
    name = word[len(EMBEDDING_PREFIX):].strip()
    leftover = ""
    while name:
        vectors = lookup(name)
        if vectors is not None:
            return list(vectors), leftover
        if name[-1] not in string.punctuation:
            break
        name, leftover = name[:-1], name[-1] + leftover
    return [], leftover  # missing: the lookup warned; the word is dropped


def prompt_words(text: str, lookup: Callable[[str], object | None] | None = None) -> list[list[Token]]:
    """Each whitespace-separated word of the prompt as its weighted tokens (embeddings as vectors)."""
    words: list[list[Token]] = []
    for segment, weight in parse_weights(text):
        for word in segment.replace("\n", " ").split(" "):
            if not word:
                continue
            if word.startswith(EMBEDDING_PREFIX) and lookup is not None:
                vectors, word = _embedding_word(word, lookup)
                if vectors:
                    words.append([(v, weight) for v in vectors])
                if not word:
                    continue
            words.append([(t, weight) for t in word_ids(word)])
    return words


def chunk_words(words: list[list[Token]], pad: int) -> list[Chunk]:
    """Fill chunks of 75 tokens; a word that does not fit moves to the next chunk unless it is long (then split)."""
    chunks: list[Chunk] = []
    current: list[Token] = []

    def close() -> None:
        chunk = [(START, 1.0)] + current + [(END, 1.0)]
        chunks.append(chunk + [(pad, 1.0)] * (CHUNK_LENGTH - len(chunk)))

    for word in words:
        while word:
            room = CHUNK_TOKENS - len(current)
            if len(word) <= room:
                current += word
                break
            if len(word) >= LONG_WORD:
                current += word[:room]
                word = word[room:]
            close()
            current = []
    if current or not chunks:
        close()
    return chunks


def tokenize(text: str, pad: int, lookup: Callable[[str], object | None] | None = None) -> list[Chunk]:
    return chunk_words(prompt_words(text, lookup), pad)


def empty_chunk(pad: int) -> Chunk:
    return chunk_words([], pad)[0]
