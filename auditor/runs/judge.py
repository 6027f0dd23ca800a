"""The tail every run shares: its frames judged by the rules, the findings matched against the
mutes, and the document's common parts (header, findings, counts, mutes, rules, inputs)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from auditor.rules.evaluate import evaluate_rules
from auditor.rules.model import Rule
from auditor.rules.mutes import apply_mutes, load_mutes


class Judged(NamedTuple):
    findings: pd.DataFrame  # one row per finding, muted ones marked
    counts: pd.DataFrame  # ok / alarm / skip per rule, account and environment
    mutes: pd.DataFrame  # each mute: its status and the findings it matched


def judge(rules: list[Rule], frames: dict[str, pd.DataFrame], as_of: date, *, all_rows: bool = False,
          mutes: list[tuple[Path, str | None]] = ()) -> Judged:
    """The rules over the run's frames (a rule of a frame the run does not have is passed over), then
    the mutes: each (file, account) pair; account None for a file that applies to every account."""
    findings, counts = evaluate_rules(rules, frames, as_of, all_rows)
    loaded = [m for path, account in mutes for m in load_mutes(path, account=account)]
    findings, mute_rows = apply_mutes(findings, loaded, as_of)
    return Judged(findings, counts, mute_rows)
