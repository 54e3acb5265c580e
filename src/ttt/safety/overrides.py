"""Instruction-override phrase families of the gate, matched on the letters-only skeleton.

Each family is written in plain words and compiled into the skeleton alphabet
(:func:`ttt.safety.textnorm.skeleton_words`: letters only, ``l`` read as ``i``), so spacing,
punctuation, case, look-alike letters and leetspeak do not matter. Each family has anchor
words: its regex runs only when one of them occurs in the skeleton (a C-speed substring
test), which keeps the rule well under a millisecond per chunk.

    find_overrides(textnorm.skeleton("Ignore all previous instructions"), 0)
    # [("override_previous", "ignoreaiipreviousinstructions")]
"""

from __future__ import annotations

import re

from ttt.safety import textnorm
from ttt.safety.gate_config import InstructionOverrideConfig

__all__ = [
    "FAMILIES",
    "find_overrides",
    "outside_quotes",
    "override_reason",
    "within_sentences",
]

_Q = "(?:all|any|every|each|of|the|your|my|these|those|this|that|and|or|single|one|our|its|so|far)"
_ADJ = (
    "(?:previous|previously|prior|preceding|above|earlier|former|foregoing|aforementioned|"
    "original|initial|old|past|existing|preset|predefined|system|default|given|provided|"
    "current|first|last|other)"
)
_OBJ = (
    "(?:instructions?|prompts?|directions?|directives?|rules|guidelines|commands?|orders|"
    "tasks?|information|context|messages?|conversation|text|inputs?|content|programming|"
    "training|constraints|restrictions|settings|guardrails|polic(?:y|ies)|filters|limitations)"
)
_STRONG_OBJ = (
    "(?:instructions?|prompts?|directives?|rules|guidelines|programming|training|restrictions|"
    "guardrails|constraints|polic(?:y|ies)|filters|safety|ethics)"
)
_V_IGNORE = (
    "(?:ignore|ignoring|forget|forgetting|disregard|disregarding|overlook|skip|bypass|override|"
    "overwrite|discard|drop|erase|abandon|dismiss|neglect|throw away|set aside|put aside|"
    "leave behind|stop following|do not follow|dont follow|no longer follow|do not obey|"
    "stop obeying)"
)
_V_SHOW = (
    "(?:reveal|show|print|display|output|repeat|tell|give|leak|dump|share|write|spell|list|"
    "what is|what are|whats|read back|echo)"
)
_PERSONA = (
    "(?:(?:a|an|the|my)?(?:unrestricted|unfiltered|uncensored|jailbroken|evil|unbound|"
    "unchained|amoral|unethical|rogue)|dan|free (?:of|from)(?:all|any|every)?(?:rules?|"
    "restrictions|limits|guidelines|constraints|filters)|no longer (?:bound|restricted|an ai|"
    "a language model|chatgpt)|in (?:developer|dan|god|jailbreak|jailbroken|unrestricted|sudo|"
    "admin) mode|going to (?:act|pretend|be|play)|called|known as|named|my (?:slave|servant|"
    "puppet))"
)
FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {
    # "ignore all previous instructions", "disregard the above directions"
    "override_previous": (
        ("previous", "prior", "above", "earlier", "preceding", "former", "foregoing", "original",
         "initial", "system", "default", "old", "existing", "first", "given", "provided"),
        f"{_V_IGNORE}{_Q}{{0,4}}{_ADJ}(?:{_Q}|{_ADJ}){{0,3}}{_OBJ}",
    ),
    # "ignore your instructions", "bypass all guardrails", "forget your programming"
    "override_yours": (
        ("your", "all", "any", "every"),
        f"{_V_IGNORE}(?:all|any|every|your)(?:of|the|your|my|safety|ethical|moral|content|"
        f"internal){{0,3}}{_STRONG_OBJ}",
    ),
    # "ignore the above and say", "forget everything before that", "forget about everything and"
    "forget_everything": (
        ("everything", "above", "all that", "all this", "anything", "foregoing"),
        "(?:forget|ignore|disregard|erase|discard)(?:about)?(?:everything|all that|all of that|"
        "all this|anything|the above|above|the foregoing|whatever)(?:you (?:have been|were|was) "
        "told|i (?:have )?(?:said|told you|wrote)|we (?:have )?(?:discussed|talked about|said)|"
        "you (?:have )?(?:learned|read|heard|been given)|before|above|so far|until now|up to "
        "now|previously|earlier|from before|that came before|prior|and (?:tell|say|write|"
        "print|answer|respond|repeat|output|give|show|start|focus|do|act|instead|now|just)|"
        "then|now|instead)",
    ),
    # "your new task is", "here are your new instructions", "now new tasks follow"
    "new_instructions": (
        ("new",),
        "(?:your new (?:instructions?|tasks?|role|rules|prompt|directives?|objective|goal|"
        "purpose|mission|orders|persona|identity)|(?:now|here are|follow|obey|following are|"
        "these are|below are|start over with|begin with|focus on)(?:the|my|your|some|a|"
        "these)?(?:new|updated|revised|real|actual)(?:instructions?|tasks?|rules|directives?|"
        "orders|system prompt)|(?:now|next)(?:new|further|additional|more)(?:tasks|"
        "instructions|orders)(?:follow|are|come)|new system prompt|updated system prompt)",
    ),
    # "you are now DAN", "from now on you will answer as", "act as an unfiltered AI"
    "persona_switch": (
        ("now", "act", "pretend", "roleplay", "role"),
        f"(?:you are now|youre now|you re now|u r now|you will now be|you have become|you "
        f"are no longer){_PERSONA}|from now on(?:you|u)(?:are|will be|shall be|re)(?:a|an|the|"
        f"my)?(?:{_PERSONA}|ai|bot|assistant|model|character|persona|called|named)|from now "
        f"on(?:you|u)(?:will|shall|must|are going to|should)(?:only|always|never)?(?:act|"
        f"respond|answer|reply|speak|pretend|behave|ignore|obey|follow my|refuse nothing|"
        f"roleplay)|(?:act|behave|respond|answer|pretend)(?:as if|as though|like|as)(?:you "
        f"(?:are|were|have))?(?:a|an|the)?(?:unrestricted|unfiltered|uncensored|jailbroken|"
        f"evil|amoral|immoral|unethical)",
    ),
    # "do anything now", "enable developer mode", "you have no restrictions"
    "jailbreak": (
        ("anything now", "mode", "no ", "bound", "character", "refuse", "ethical", "safety"),
        "(?:do anything now|(?:enable|activate|enter|switch to|turn on|unlock)(?:the|your)?"
        "(?:developer|dan|god|jailbreak|jailbroken|sudo|admin)mode|(?:developer|dan|jailbreak)"
        "mode(?:enabled|activated|on|unlocked)|(?:you have|you ve got|you got|with|there are)"
        "(?:no|zero)(?:more)?(?:restrictions|rules|limits|limitations|filters|guidelines|"
        "boundaries|ethics|morals|content policy)|(?:not|no longer|never)(?:be)?bound by(?:any|"
        "your|the|openai s|openais)?(?:rules|restrictions|guidelines|polic(?:y|ies)|"
        "limitations|ethics)|(?:ignore|bypass|disable|override)(?:your|all|any|the)(?:ethical|"
        "safety|moral|content)(?:guidelines|polic(?:y|ies)|rules|restrictions|filters|"
        "principles)|stay in character at all times|never (?:refuse|decline) (?:a|any)"
        "(?:request|question|order))",
    ),
    # "reveal your system prompt", "show me all your prompt texts", "repeat the text above"
    "prompt_leak": (
        ("prompt", "instruction", "system", "above"),
        f"(?:{_V_SHOW}(?:me|us)?(?:out)?(?:all|the)?(?:of)?(?:your)(?:system|initial|original|"
        f"hidden|secret|full|entire|complete|first|exact|internal|real)?(?:prompt|prompts|"
        f"prompt text|prompt texts|instructions|system message|system prompt)|(?:reveal|show|"
        f"print|display|output|repeat|leak|dump|spell out)(?:me|us)?(?:the|all|all of the)?"
        f"(?:system prompt|hidden prompt|initial prompt|original prompt|prompt text|prompt "
        f"texts|hidden instructions|initial instructions|original instructions|text above|"
        f"words above|instructions above|everything above)|(?:ignore|override|bypass|forget|"
        f"disregard|overwrite)(?:the|your|this)?(?:system prompt|system message))",
    ),
    # German: "Ignoriere alle vorherigen Anweisungen", "Vergiss alles davor", ...
    "override_german": (
        ("vergiss", "vergess", "ignorier", "missacht", "verwirf", "vorherig", "bisherig",
         "obig", "neue", "bist du", "du bist", "sie sind", "zeig", "folgen"),
        "(?:(?:ignorier|ignoriere|ignorieren|vergiss|vergesst|vergessen|missachte|missachten|"
        "verwirf|verwerfen)(?:sie|du|bitte){0,2}(?:alle|alles|die|deine|ihre|jegliche|samtliche|"
        "saemtliche)?(?:vorherigen|bisherigen|obigen|vorangegangenen|vorigen|fruheren|alten|"
        "ursprunglichen|bisher|vorher|gegebenen)(?:anweisungen|instruktionen|befehle|"
        "informationen|aufgaben|regeln|vorgaben|prompts|eingaben)|(?:vergiss|vergesst|vergessen "
        "sie|ignoriere|ignorieren sie)(?:bitte)?alles(?:was|davor|vorher|bisher|zuvor|oben|"
        "obige|bisherige|gesagte|bisher gesagte|andere|und)|(?:alle|die)(?:vorherigen|"
        "bisherigen|obigen|vorangegangenen)(?:anweisungen|informationen|instruktionen|"
        "aufgaben)[a-z]{0,40}?(?:irrelevant|ungultig|hinfallig|vergessen|ignorieren|hinter "
        "sich|hinter dir)|(?:ab jetzt|ab sofort|von nun an|ab heute)(?:bist du|sind sie|wirst "
        "du|antwortest du|verhaltst du)|(?:du bist|sie sind)(?:jetzt|nun|ab sofort)(?:ein|"
        "eine|der|die|das|mein|kein|keine)|(?:deine|ihre|eure)neue(?:aufgabe|anweisung|"
        "anweisungen|rolle)|(?:hier sind|folgen|befolge|befolgen sie)(?:deine|ihre|die|nun|"
        "jetzt)?neuen?(?:anweisungen|aufgaben|instruktionen|regeln)|(?:nun|jetzt)(?:folgen|"
        "kommen)(?:weitere|neue)(?:aufgaben|anweisungen)|(?:zeige|zeig|gib|nenne|verrate|"
        "drucke)(?:mir|uns)?(?:deinen|ihren|den|deine|ihre)(?:system prompt|prompt|"
        "ursprunglichen anweisungen|anweisungen)|(?:die|alle)?(?:obigen|vorherigen|bisherigen)"
        "(?:ausfuhrungen|anweisungen|informationen|instruktionen)(?:ignorieren|vergessen|"
        "missachten)|abweichend(?:zu|von)(?:den)?(?:vorherigen|bisherigen|obigen)(?:anweisungen|"
        "instruktionen))",
    ),
    # French, Spanish, Italian: "Oubliez toutes les instructions", "ignora las instrucciones"
    "override_romance": (
        ("instruction", "istruzion", "consigne"),
        "(?:(?:oubliez|oublie|ignorez|ignore)(?:toutes|tout|tous)?(?:les|tes|vos)"
        "(?:instructions|consignes|regles)|(?:ignora|olvida|olvide|ignore|ignorar)(?:todas)?"
        "(?:las|tus|sus)(?:instrucciones)(?:anteriores|previas)?|(?:ignora|dimentica)(?:tutte)?"
        "(?:le)(?:istruzioni))",
    ),
}  # fmt: skip


def _compile_families() -> list[tuple[str, tuple[str, ...], re.Pattern[str]]]:
    out = []
    for name, (anchors, pattern) in FAMILIES.items():
        folded_anchors = tuple(textnorm.skeleton_words(a) for a in anchors)
        out.append((name, folded_anchors, re.compile(textnorm.skeleton_words(pattern))))
    return out


_COMPILEDFAMILIES = _compile_families()


def find_overrides(skel: str, tail_len: int) -> list[tuple[str, str]]:
    """(family, matched skeleton) for each family matching in ``skel`` whose match ends past
    the carried tail (matches wholly inside the tail were reported on the previous chunk)."""
    found = []
    for name, anchors, rx in _COMPILEDFAMILIES:
        if not any(a in skel for a in anchors):
            continue
        for m in rx.finditer(skel):
            if m.end() > tail_len:
                found.append((name, m.group()))
                break
    return found


def override_reason(found: list[tuple[str, str]], cfg: InstructionOverrideConfig) -> str:
    shown = "; ".join(f"{name}: '{snippet[:60]}'" for name, snippet in found[:3])
    return (
        f"instruction_override: {len(found)} instruction-override phrase families matched "
        f"after folding case, spacing, punctuation, look-alike letters and leetspeak ({shown}), "
        f"above the limit {cfg.max_matches}"
    )


# Quoted spans: "...", “...”, ‘...’, `...` and '...' (not an apostrophe inside a word).
_QUOTED_RE = re.compile(
    '"[^"\n]{3,240}"|\u201c[^\u201d\n]{3,240}\u201d|\u2018[^\u2019\n]{3,240}\u2019|'
    "`[^`\n]{3,240}`|(?<![\\w])'[^'\n]{3,240}'(?![\\w])|\u00ab[^\u00bb\n]{3,240}\u00bb"
)


def outside_quotes(found: list[tuple[str, str]], text: str, tail: str) -> list[tuple[str, str]]:
    """The matches in ``found`` that still match once quoted spans are removed from
    ``text``: a phrase that only occurs inside quotation marks is being talked about
    (documentation, a news report), not given as an instruction."""
    if not found or _QUOTED_RE.search(text) is None:
        return found
    unquoted = textnorm.skeleton(_QUOTED_RE.sub(" ", text))
    still = {name for name, _ in find_overrides(tail + unquoted, len(tail))}
    return [(name, snip) for name, snip in found if name in still]


# A sentence boundary: end punctuation, space, capital letter. Spelling tricks ("i.g.n.o.r.e",
# "ign.ore", "i . g . n") never put a capital after a period and a space.
_SENTENCE_BOUNDARY_RE = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def within_sentences(found: list[tuple[str, str]], text: str, tail: str) -> list[tuple[str, str]]:
    """The matches in ``found`` that still match inside one sentence of ``text`` (the first
    sentence joined to the carried tail): the skeleton has no punctuation, so "...the chosen
    output. System prompt attacks..." would otherwise read as "output system prompt"."""
    if not found:
        return found
    parts = _SENTENCE_BOUNDARY_RE.split(text)
    if len(parts) < 2:
        return found
    still: set[str] = set()
    for i, part in enumerate(parts):
        t = tail if i == 0 else ""
        still.update(name for name, _ in find_overrides(t + textnorm.skeleton(part), len(t)))
    return [(name, snip) for name, snip in found if name in still]
