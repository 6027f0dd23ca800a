"""The README for a year of use: its table of contents lists every section, and every file of the
repository it names is there."""

from __future__ import annotations

import re

from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _headings() -> list[str]:
    body = re.sub(r"```.*?```", "", README, flags=re.S)  # a '# comment' in a code block is no heading
    return [h for level, h in re.findall(r"^(##+) (.+)$", body, flags=re.M) if len(level) <= 3]


def test_the_contents_list_every_section_and_only_those():
    toc = README.split("## Quick start")[0]
    linked = re.findall(r"\]\(#([^)]+)\)", toc)
    assert sorted(linked) == sorted(_slug(h) for h in _headings())


# repository paths the README names: a file or folder under one of the repository's own folders
PATH = re.compile(r"`((?:auditor|rules|reports|tests|benchmarks|docs|\.ci)/[\w./-]*)`|\]\(((?:docs)/[^)]+)\)")


def test_every_file_of_the_repository_the_readme_names_is_there():
    named = {a or b for a, b in PATH.findall(README)}
    assert len(named) > 15
    missing = sorted(p for p in named if not (ROOT / p.split(" ")[0]).exists())
    assert not missing, missing
    assert "../" not in README  # nothing outside the repository is named as if it were in it


def test_the_monthly_job_uses_options_the_audit_has():
    from click.testing import CliRunner

    from auditor.cli import cli
    recipe = README.split("### The monthly job")[1].split("### ")[0]
    help_text = CliRunner().invoke(cli, ["audit", "--help"]).output
    for option in set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", recipe)):
        if option not in ("--changes-only", "--account"):  # history, diff and report options
            assert option in help_text, option
