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

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from auditor.errors import AuditorError


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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return Config.model_validate(data)
    except OSError as exc:
        raise AuditorError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AuditorError(f"{path}" + (f":{mark.line + 1}" if mark else "") + ": not readable YAML") from None
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"]
        raise AuditorError(f"{path}: {where}: {message}") from None
