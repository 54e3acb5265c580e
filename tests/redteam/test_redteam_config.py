"""RedTeamConfig: validation names the field, dict round trip, defaults from the defence."""

from __future__ import annotations

import pytest

from ttt.redteam import DEFAULT_IMPLANT, RedTeamConfig


def test_round_trip_and_normalised_sentry() -> None:
    cfg = RedTeamConfig(goal="implant", implant=dict(DEFAULT_IMPLANT), sentry={"safety": "gate"})
    again = RedTeamConfig.from_dict(cfg.to_dict())
    assert again == cfg
    # the stored defence is the full SentryConfig, every threshold included
    assert {"safety", "chunk_tokens", "canary_max_delta", "spfw_slack", "lr"} <= set(cfg.sentry)
    assert cfg.sentry["safety"] == "gate"
    assert cfg.threshold == cfg.success_implant_gain


def test_canary_threshold_defaults_to_the_defence_limit() -> None:
    cfg = RedTeamConfig(sentry={"canary_max_delta": 0.03})
    assert cfg.success_canary_delta == 0.03 and cfg.threshold == 0.03
    assert RedTeamConfig(success_canary_delta=0.2).threshold == 0.2


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"method": "random"}, "method"),
        ({"goal": "chaos"}, "goal"),
        ({"goal": "implant"}, "implant"),
        ({"goal": "implant", "implant": {"trigger": "x"}}, "implant"),
        ({"goal": "implant", "implant": {"trigger": "x", "target": " "}}, "implant"),
        ({"implant": dict(DEFAULT_IMPLANT)}, "implant"),  # canary goal takes no implant
        ({"budget": 0}, "budget"),
        ({"budget": True}, "budget"),
        ({"population": 1}, "population"),
        ({"seed": -1}, "seed"),
        ({"sentry": {"safety": "maybe"}}, "sentry"),
        ({"sentry": {"bogus": 1}}, "sentry"),
        ({"success_canary_delta": 0.0}, "success_canary_delta"),
        ({"success_implant_gain": float("nan")}, "success_implant_gain"),
        ({"gate_penalty": -1.0}, "gate_penalty"),
        ({"crossover_rate": 1.5}, "crossover_rate"),
        ({"seeds_file": "  "}, "seeds_file"),
        ({"top_k": 0}, "top_k"),
        (
            {"method": "gradient", "payload_tokens": 64, "sentry": {"chunk_tokens": 32}},
            "payload_tokens",
        ),
    ],
)
def test_validation_names_the_field(fields: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        RedTeamConfig.from_dict(fields)


def test_from_dict_rejects_unknown_fields_and_non_objects() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        RedTeamConfig.from_dict({"budget": 3, "bogus": 1})
    with pytest.raises(ValueError, match="object"):
        RedTeamConfig.from_dict([1, 2])  # type: ignore[arg-type]
