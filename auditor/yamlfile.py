"""A small YAML file validated by a pydantic model, with one-line errors naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from auditor.errors import AuditorError

M = TypeVar("M", bound=BaseModel)


def load_model(path: Path, model: type[M], what: str, unknown: str = "unknown key") -> M:
    """`model` from the YAML at `path`; `what` names the file in a read error ("the mapping")."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return model.model_validate(data)
    except OSError as exc:
        raise AuditorError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AuditorError(f"{path}" + (f":{mark.line + 1}" if mark else "") + ": not readable YAML") from None
    except ValidationError as exc:
        errors = exc.errors()  # an unknown key says more than the field it was meant to be
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where = ".".join(str(p) for p in err["loc"])
        raise AuditorError(f"{path}: {where}: {unknown if err['type'] == 'extra_forbidden' else err['msg']}") from None
