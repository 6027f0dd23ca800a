"""Human-written YAML (rules, profiles, policies, mutes, mappings, configuration): one reader,
one-line errors naming the file and the line.

Anchors and aliases are refused: a 1 KB file of nested aliases expands to millions of values
(and a rule's parameters are copied into every results file). A key given twice in a mapping is
refused too: YAML readers keep the last silently, so a rule would run with half of what its
author wrote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from auditor.common.errors import AuditorError

M = TypeVar("M", bound=BaseModel)


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when PyYAML was built with it


def _check_node(path: Path, node: yaml.Node | None) -> None:
    """Refuse duplicate keys anywhere in the tree (aliases are refused while parsing)."""
    stack = [node] if node is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise AuditorError(f"{path}:{key.start_mark.line + 1}: the key {key.value!r} is given twice "
                                           "in one mapping; keep one")
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def read_yaml(path: Path, what: str = "the file") -> tuple[Any, yaml.Node | None]:
    """(data, node tree) of a human-written YAML file; the node tree gives lines for messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuditorError(f"{path}: cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise AuditorError(f"{path}: not UTF-8 text") from None
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AuditorError(f"{path}:{event.start_mark.line + 1}: YAML anchors and aliases (&, *) are not "
                                   "accepted; write the values out")
        loader = _LOADER(text)  # composed once; the data is constructed from the same nodes
        try:
            node = loader.get_single_node()
            _check_node(path, node)
            return (loader.construct_document(node) if node is not None else None), node
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise AuditorError(f"{path}" + (f":{mark.line + 1}" if mark else "") + ": not readable YAML") from None


def load_model(path: Path, model: type[M], what: str, unknown: str = "unknown key") -> M:
    """`model` from the YAML at `path`; `what` names the file in a read error ("the mapping")."""
    data, _ = read_yaml(path, what)
    try:
        return model.model_validate(data or {})
    except ValidationError as exc:
        errors = exc.errors()  # an unknown key says more than the field it was meant to be
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        where = ".".join(str(p) for p in err["loc"])
        raise AuditorError(f"{path}: {where}: {unknown if err['type'] == 'extra_forbidden' else err['msg']}") from None
