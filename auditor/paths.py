"""Where the data that ships with the package lives.

In a wheel, `rules/` is copied to `auditor/_data/rules` (see pyproject.toml); in a source
checkout or an editable install it is the top-level `rules/` folder beside the package.
"""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


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
