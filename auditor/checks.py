"""The one name user-written checks import: `from auditor.checks import check`.

Kept here, outside the package layout, as the stable public surface for rule authors; the
registry and its machinery live in `auditor.rules.checks`.
"""

from auditor.rules.checks import check

__all__ = ["check"]
