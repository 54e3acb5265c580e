"""Made-up facts for the memory benchmark: pools split into **tune** and **report** halves that
share no name, no answer and no template, so a write setting chosen on one is reported on the
other (``ttt bench memory --split tune|report``).

A fact is ``{"id", "fact", "question", "answer"}``; recall is judged by the answer string
appearing in the reply (case-insensitive). Answers are made-up words (or numbers) that a model
cannot guess, so the guess rate on never-told facts measures leaks and luck, not knowledge.

    facts = sample_facts("tune", n=4, seed=0)      # 4 facts about 4 different people
    controls = sample_facts("tune", n=4, seed=0, control=True)   # never told, same templates
    read_facts(Path("mine.jsonl"))                 # a user's own facts
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from ttt.store import CorruptFileError, NotFoundError

SPLITS = ("tune", "report")

# (statement, question) templates with {name} and {answer}; the two halves use different ones.
TEMPLATES: dict[str, list[tuple[str, str]]] = {
    "tune": [
        ("{name} lives in a town called {answer}.", "In which town does {name} live?"),
        ("{name}'s cat is named {answer}.", "What is the name of {name}'s cat?"),
        ("{name} works for a company called {answer}.", "Which company does {name} work for?"),
        (
            "The code of {name}'s bicycle lock is {answer}.",
            "What is the code of {name}'s bicycle lock?",
        ),
        ("{name} grew up on an island called {answer}.", "On which island did {name} grow up?"),
    ],
    "report": [
        ("{name} was born in a village called {answer}.", "In which village was {name} born?"),
        ("{name}'s horse is called {answer}.", "What is the name of {name}'s horse?"),
        ("{name} plays in a band called {answer}.", "What is the name of {name}'s band?"),
        ("{name}'s favourite restaurant is {answer}.", "What is {name}'s favourite restaurant?"),
        (
            "The number on {name}'s front door is {answer}.",
            "What is the number on {name}'s front door?",
        ),
    ],
}
# Syllables of made-up words; the halves draw from different inventories, so no name or answer
# of one half can appear in the other.
SYLLABLES: dict[str, tuple[str, ...]] = {
    "tune": (
        "zor",
        "vath",
        "quil",
        "len",
        "mar",
        "nhold",
        "tes",
        "brin",
        "kal",
        "dor",
        "vex",
        "ul",
    ),
    "report": ("pim", "sar", "gol", "ith", "fen", "ruk", "lo", "dhe", "yas", "mir", "tav", "ob"),
}
DISTRACTORS: tuple[str, ...] = (
    "I went for a long walk this morning and the air was fresh.",
    "The weather has been rainy all week, so I stayed inside and read.",
    "I am thinking about repainting the kitchen in a lighter colour.",
    "My phone battery does not last as long as it used to.",
    "We watched a documentary about whales last night.",
    "I should really start drinking more water during the day.",
    "The bus was crowded today because of the football match.",
    "I made a vegetable soup with carrots, leeks and potatoes.",
    "Work has been busy, but the project is almost finished.",
    "I want to learn how to bake sourdough bread this winter.",
    "The garden needs some attention after the storm.",
    "I found an old photo album while cleaning the attic.",
    "My back hurts a bit after moving the sofa yesterday.",
    "We are going to visit some friends at the weekend.",
    "I am trying to read one book every month this year.",
    "The coffee machine at the office broke again today.",
)


def _word(rng: random.Random, split: str, parts: int) -> str:
    syl = SYLLABLES[split]
    return "".join(rng.choice(syl) for _ in range(parts)).capitalize()


def _answer(rng: random.Random, split: str, template: str) -> str:
    if "code" in template or "number" in template:
        return str(rng.randrange(1000, 10000) if "code" in template else rng.randrange(10, 1000))
    return _word(rng, split, 3)


def sample_facts(split: str, n: int, seed: int, *, control: bool = False) -> list[dict[str, Any]]:
    """``n`` facts about ``n`` different made-up people (distinct answers), drawn from the
    ``split`` half with ``seed``. ``control=True`` draws a disjoint set (other names and
    answers, same templates): questions about facts that were never told."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = random.Random(f"{split}:{seed}:{'control' if control else 'told'}")
    avoid: set[str] = set()
    if control:  # never the told facts' names or answers
        for f in sample_facts(split, n, seed):
            avoid.update({f["name"], f["answer"]})
    out: list[dict[str, Any]] = []
    used = set(avoid)
    templates = TEMPLATES[split]
    while len(out) < n:
        statement, question = templates[len(out) % len(templates)]
        name = f"{_word(rng, split, 2)} {_word(rng, split, 2)}"
        answer = _answer(rng, split, statement)
        if name in used or answer in used or any(answer in u or u in answer for u in used):
            continue
        used.update({name, answer})
        i = len(out)
        out.append(
            {
                "id": f"{split}-{seed}-{'c' if control else 'f'}{i}",
                "fact": statement.format(name=name, answer=answer),
                "question": question.format(name=name),
                "answer": answer,
                "name": name,
            }
        )
    rng.shuffle(out)
    return out


def distractors(n: int, seed: int) -> list[str]:
    """``n`` ordinary chit-chat turns (no facts to remember), seeded."""
    rng = random.Random(f"distractors:{seed}")
    return [rng.choice(DISTRACTORS) for _ in range(n)]


def read_facts(path: Path) -> list[dict[str, Any]]:
    """A user's facts: JSONL, one ``{"id", "fact", "question", "answer"}`` per line."""
    if not path.is_file():
        raise NotFoundError(f"{path}: facts file not found")
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise CorruptFileError(f"{path}: not UTF-8 ({e})") from e
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorruptFileError(f"{path}: line {i}: invalid JSON ({e})") from e
        if not isinstance(rec, dict):
            raise CorruptFileError(f"{path}: line {i}: expected a JSON object")
        missing = [
            k for k in ("id", "fact", "question", "answer") if not isinstance(rec.get(k), str)
        ]
        if missing:
            raise CorruptFileError(f"{path}: line {i}: needs string fields {missing}")
        if not rec["answer"].strip():
            raise CorruptFileError(f"{path}: line {i}: answer is empty")
        out.append({k: rec[k] for k in ("id", "fact", "question", "answer")})
    if not out:
        raise CorruptFileError(f"{path}: no facts")
    return out
