from pathlib import Path

from postlogin.conf import DEFAULTS

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_every_setting_is_in_the_settings_reference() -> None:
    reference = (DOCS / "settings.md").read_text()
    missing = [key for key in DEFAULTS if f"| `{key}` |" not in reference]
    assert missing == []
