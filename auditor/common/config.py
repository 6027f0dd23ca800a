"""The optional configuration file: settings a team keeps instead of repeating options.

Read from `--config FILE`, else `$AUDITOR_CONFIG`, else `auditor.yaml` in the current folder when
there is one. Options on the command line win over it.

    history:
      record: true                 # record every audit (as --record does)
      path: /srv/audits/history.sqlite
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from auditor.common.yamlfile import load_model


class HistoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record: bool = False
    path: Path | None = None


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid")
    history: HistoryConfig = HistoryConfig()


def load_config(explicit: Path | None) -> Config:
    path = explicit or (Path(os.environ["AUDITOR_CONFIG"]) if os.environ.get("AUDITOR_CONFIG") else None)
    if path is None:
        path = Path("auditor.yaml")
        if not path.is_file():
            return Config()
    return load_model(path, Config, "the configuration", unknown="unknown setting")
