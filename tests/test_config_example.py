"""config.example.toml documents every setting, with the defaults the code uses."""

import tomllib
from pathlib import Path

from core.config import SECTIONS, defaults

EXAMPLE = Path(__file__).parent.parent / "config.example.toml"


def test_example_lists_every_setting_with_its_default():
    example = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    assert set(example) == set(SECTIONS)
    for section, model in SECTIONS.items():
        assert set(example[section]) == set(model.model_fields), section
    assert example == defaults().model_dump()
