"""The safety coverage matrix, generated from code: mechanisms x domains.

Each domain declares what it supports in a module-level constant ``SAFETY_SUPPORT``, a dict
from a mechanism key (``MECHANISMS``) to ``True`` ("yes"), ``False`` ("no") or a short
string shown verbatim (e.g. ``"n/a (physics input)"``):

* Sentry: ``ttt.text.sentry.SAFETY_SUPPORT``
* Chat:   ``ttt.text.chat.SAFETY_SUPPORT``
* Nano:   ``ttt.nano.config.SAFETY_SUPPORT``

Short aliases are accepted for the keys (``ALIASES``: ``update``, ``rollback``, ``signals``).
A domain whose module (or constant) does not exist yet is shown as "not built yet"; a
mechanism a domain does not mention is "not declared". The README carries the rendered
table between ``<!-- coverage:start -->`` and ``<!-- coverage:end -->``
(tests/safety/test_coverage.py fails when it is stale).

    python -m ttt.safety.coverage
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

MECHANISMS: tuple[tuple[str, str], ...] = (
    ("update_transaction", "update transaction"),
    ("gate", "gate"),
    ("canary_rollback", "canary rollback"),
    ("grad_alignment", "directional signals (grad alignment)"),
    ("spfw", "SPFW"),
)
ALIASES: dict[str, str] = {
    "update": "update_transaction",
    "transaction": "update_transaction",
    "rollback": "canary_rollback",
    "canary": "canary_rollback",
    "signals": "grad_alignment",
    "directional_signals": "grad_alignment",
}
DOMAINS: tuple[tuple[str, str], ...] = (
    ("Sentry", "ttt.text.sentry"),
    ("Chat", "ttt.text.chat"),
    ("Nano", "ttt.nano.config"),
)
NOT_BUILT = "not built yet"
NOT_DECLARED = "not declared"
START_MARKER = "<!-- coverage:start -->"
END_MARKER = "<!-- coverage:end -->"


def load_support(module: str) -> Mapping[str, Any] | None:
    """A domain's ``SAFETY_SUPPORT`` (None when the module or the constant is absent).

    Only a missing module itself counts as "not built": an import error *inside* an existing
    module propagates, so a broken domain is never shown as merely absent.
    """
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module == exc.name or module.startswith(f"{exc.name}.")):
            return None
        raise
    support = getattr(mod, "SAFETY_SUPPORT", None)
    if support is None:
        return None
    if not isinstance(support, Mapping):
        raise TypeError(f"{module}.SAFETY_SUPPORT must be a dict, got {type(support).__name__}")
    known = {k for k, _ in MECHANISMS}
    out: dict[str, Any] = {}
    for key, value in support.items():
        canon = ALIASES.get(key, key)
        if canon not in known:
            raise ValueError(
                f"{module}.SAFETY_SUPPORT has unknown mechanism {key!r} "
                f"(known: {sorted(known)}; aliases: {sorted(ALIASES)})"
            )
        if canon in out:
            raise ValueError(f"{module}.SAFETY_SUPPORT declares {canon!r} twice (via {key!r})")
        out[canon] = value
    return out


def cell(value: Any) -> str:
    """How one declaration is shown."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str) and value.strip():
        return value.strip().replace("|", "\\|")
    raise ValueError(f"a SAFETY_SUPPORT value must be True, False or a string, got {value!r}")


def matrix() -> dict[str, dict[str, str]]:
    """{domain: {mechanism key: cell text}}."""
    out: dict[str, dict[str, str]] = {}
    for domain, module in DOMAINS:
        support = load_support(module)
        out[domain] = {
            key: (
                NOT_BUILT
                if support is None
                else (cell(support[key]) if key in support else NOT_DECLARED)
            )
            for key, _ in MECHANISMS
        }
    return out


def render_table() -> str:
    """The markdown table (no trailing newline)."""
    m = matrix()
    domains = [d for d, _ in DOMAINS]
    lines = [
        "| mechanism | " + " | ".join(domains) + " |",
        "|---|" + "---|" * len(domains),
    ]
    for key, label in MECHANISMS:
        lines.append(f"| {label} | " + " | ".join(m[d][key] for d in domains) + " |")
    return "\n".join(lines)


def readme_block(text: str) -> str | None:
    """What README text holds between the coverage markers (stripped), None without them."""
    if START_MARKER not in text or END_MARKER not in text:
        return None
    start = text.index(START_MARKER) + len(START_MARKER)
    end = text.index(END_MARKER, start)
    return text[start:end].strip()


if __name__ == "__main__":
    print(render_table())
