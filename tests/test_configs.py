from __future__ import annotations

from dataclasses import dataclass

import pytest

from ttt.configs import from_dict


@dataclass
class _Cfg:
    a: int = 1
    b: str = "x"


def test_from_dict_builds_and_names_what_is_wrong() -> None:
    assert from_dict(_Cfg, {"b": "y"}, "demo") == _Cfg(1, "y")
    with pytest.raises(ValueError, match=r"^demo: unknown field\(s\) c, d \(known: a, b\)$"):
        from_dict(_Cfg, {"a": 2, "d": 0, "c": 0}, "demo")
    with pytest.raises(ValueError, match=r"^demo must be an object, got list$"):
        from_dict(_Cfg, [1], "demo")
