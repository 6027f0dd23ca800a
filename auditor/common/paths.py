"""Where the data that ships with the package lives.

In a wheel, `rules/` is copied to `auditor/_data/rules` (see pyproject.toml); in a source
checkout or an editable install it is the top-level `rules/` folder beside the package.
"""

import os
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # the auditor package


def data_dir(name: str) -> Path:
    for candidate in (PACKAGE / "_data" / name, PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the installed package has no {name}/ folder")


def sample_dir() -> Path:
    return PACKAGE / "sample"


def partner_sample_dir() -> Path:
    return PACKAGE / "sample_partner"


def netsuite_sample_dir() -> Path:
    return PACKAGE / "sample_netsuite"


# An id from the data may name a folder only when it is plainly one name: integrator.io's ids are
# 24 hex digits; letters, digits, "_" and "-" leave no way to climb out ("..", "/", "\\", a drive).
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def safe_id(value) -> str | None:
    """`value` if it is an id that can be used as a file or folder name as it is, else None."""
    return value if isinstance(value, str) and _SAFE_ID.fullmatch(value) else None


def config_path(explicit: Path | None) -> Path | None:
    """The configuration file in force, if any: --config, $AUDITOR_CONFIG, ./auditor.yaml."""
    path = explicit or (Path(os.environ["AUDITOR_CONFIG"]) if os.environ.get("AUDITOR_CONFIG") else None)
    if path is None and Path("auditor.yaml").is_file():
        path = Path("auditor.yaml")
    return path
