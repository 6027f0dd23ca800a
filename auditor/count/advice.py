"""Advice: the way under an environment's limits, worked out from the counted frames.

Per environment over or near a limit (endpoints, billable flows, trading partners, on-premise
agents), the options it has, each with the evidence and exactly what it saves:

- **disable-flows**: the fewest enabled flows whose disabling brings the count within the limit.
  An endpoint (or trading partner) is freed when every flow that reaches it is disabled and
  nothing else does (an API, a tool or a sync in `reached_by`: such an endpoint cannot be freed by
  disabling flows). Choosing the fewest flows that free `need` endpoints is a minimum k-union
  problem (NP-hard); it is solved exactly by a branch and bound over the endpoints
  (`fewest_flows`), within a budget of search nodes past which the best answer found is given
  with a lower bound on the fewest, said as not proven minimal. For the flow limit the fewest is
  the overage itself.
- **consolidate**: connections of one system (one host's base URIs, one NetSuite account, one
  Salesforce org) that the policy counts as several endpoints, merged into one connection.
- **buy**: the add-ons that cover the overage.

Integration-app flows are chosen only when the limit cannot be reached without them; among the
answers with the fewest flows, those with fewer flows that ran lately (the flow's last run, when
the snapshot tells it) are preferred. Everything here is pure: frames in, plain dicts out.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from itertools import combinations

import pandas as pd

from auditor.common.vocabulary import plural

# the metrics advice covers, as the results file names them, with their nouns
NOUNS = {"endpoints": ("endpoint", "endpoints"), "flows": ("billable flow", "billable flows"),
         "trading_partners": ("trading partner", "trading partners"), "agents": ("on-premise agent", "on-premise agents")}
USED_COLUMN = {"endpoints": "endpoints_used", "flows": "flows_billable", "trading_partners": "trading_partners_used",
               "agents": "agents_used"}
# the work the exact search may do per question (candidates and their flows looked at, summed over
# its nodes: about 3 µs each, so some 2 s) before it gives its best answer unproven; deterministic,
# unlike a time limit
NODE_BUDGET = 600_000
# a flow that ran within this many days of the audit date is "in use": chosen last among equals
IDLE_DAYS = 30
# how many evidence lines an option's `why` quotes before it says "and N more"
WHY_ITEMS = 8


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


@dataclass
class Solution:
    """The flows chosen (indices into the flow list given), and how sure the answer is."""

    flows: list[int]
    exact: bool  # proven the fewest (within the preferences' order)
    bound: int  # the fewest flows any answer needs (equal to len(flows) when exact)
    nodes: int = 0  # search work done (candidates and their flows looked at, summed over the nodes)


@dataclass
class _Problem:
    groups: list[tuple[int, int]]  # (flow mask, how many items have exactly these flows)
    need: int
    apps: int  # mask of integration-app flows
    recent: int  # mask of flows that ran lately


def _cost(mask: int, apps: int, recent: int) -> tuple[int, int, int]:
    return (mask.bit_count(), (mask & apps).bit_count(), (mask & recent).bit_count())


@lru_cache(maxsize=4096)  # bounded: a mask of 20,000 flows is 2.5 kB
def _flow_list(mask: int) -> tuple[int, ...]:
    return tuple(_bits(mask))


def _lower_bound(used: int, cands: list[tuple[int, int]], need: int) -> int:
    """The fewest flows still to add to `used` so that `need` more of `cands` are freed.

    Each added flow f is shared by at most deg(f) candidates, so the flows a set T of candidates
    needs number at least sum over T of sum over its new flows of 1/deg(f); the cheapest way to
    gather `need` items at those prices (fractions allowed) bounds it from below. Two simpler bounds
    (the smallest single residual; the least n with `need` items of residual at most n) are taken
    too, the largest wins."""
    # each candidate's flows not yet disabled, as lists (cached per mask: the masks recur at every node)
    residuals = [([b for b in _flow_list(m) if not used >> b & 1], k) for m, k in cands]
    deg: dict[int, int] = {}
    for r, _ in residuals:
        for b in r:
            deg[b] = deg.get(b, 0) + 1
    priced = sorted(((sum(1 / deg[b] for b in r), k, len(r)) for r, k in residuals), key=lambda t: t[0] / t[1])
    left, total = need, 0.0
    for price, k, _ in priced:
        take = min(k, left)
        total += price * take / k
        left -= take
        if left == 0:
            break
    fractional = math.ceil(total - 1e-9)  # float sums of 1/deg: a hair over a whole number is it
    sizes = sorted((size, k) for _, k, size in priced)
    smallest = sizes[0][0] if sizes else 0
    left = need
    by_size = 0
    for size, k in sizes:
        left -= k
        by_size = size
        if left <= 0:
            break
    return max(fractional, smallest, by_size)


def fewest_flows(items: Sequence[Iterable[int]], need: int, apps: Iterable[int] = (), recent: Iterable[int] = (),
                 budget: int = NODE_BUDGET) -> Solution | None:
    """The fewest flows whose disabling frees at least `need` of `items` (each the set of flow
    indices reaching one freeable item), lexicographically least in (flows, integration-app flows
    among them, flows that ran lately among them); None when even all of them do not free `need`.

    Items with the same flows are taken as one with their count; items needing more flows than a
    greedy answer are dropped (they cannot be in a better one: this removes the hubs, a NetSuite
    account every flow reaches); what is left falls apart into components sharing no flow. Each
    component's cost of freeing 1, 2, ... of its items is found exactly (all unions of its items
    when it has at most SMALL of them, else a depth-first branch and bound pruned by
    `_lower_bound`), and the components are combined by dynamic programming over the count freed.
    Past `budget` (work: candidates and their flows looked at, summed over the search's nodes) a
    component's best answers found (greedy ones at the least) are used unproven: the answer
    then says so, with the lower bound of the whole problem."""
    masks = [m for m in (sum(1 << f for f in set(flows)) for flows in items) if m]
    if need <= 0:
        return Solution([], True, 0)
    if len(masks) < need:
        return None
    app_mask = sum(1 << f for f in set(apps))
    recent_mask = sum(1 << f for f in set(recent))
    counted: dict[int, int] = {}
    for m in masks:
        counted[m] = counted.get(m, 0) + 1
    groups = sorted(counted.items(), key=lambda g: (g[0].bit_count(), g[0]))
    greedy = _greedy(_Problem(groups, need, app_mask, recent_mask))
    limit = greedy.bit_count()
    groups = [g for g in groups if g[0].bit_count() <= limit]
    root_bound = _lower_bound(0, groups, need)
    spent = [0]
    exact = True
    # the cheapest way to free j items (j capped at need), over the components seen so far
    table: dict[int, tuple[tuple[int, int, int], int]] = {0: ((0, 0, 0), 0)}
    for component in _components(groups):
        curve, proven = _curve(component, need, app_mask, recent_mask, budget, spent)
        exact &= proven
        merged = dict(table)
        for j, (cost, used) in table.items():
            for m, (c, u) in curve.items():
                at = min(need, j + m)
                total = (cost[0] + c[0], cost[1] + c[1], cost[2] + c[2])
                if at not in merged or total < merged[at][0]:
                    merged[at] = (total, used | u)
        table = merged
    best = table[need][1]
    if _cost(greedy, app_mask, recent_mask) < table[need][0]:  # only when a budget cut the search short
        best = greedy
    count = best.bit_count()
    proven = exact or count <= root_bound
    return Solution(sorted(_bits(best)), proven, count if proven else root_bound, spent[0])


SMALL = 10  # a component of at most this many item groups is solved by trying every union of them


def _components(groups: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Groups split into sets that share no flow (union-find over the flows), in a stable order."""
    parent: dict[int, int] = {}

    def root(f: int) -> int:
        while parent.setdefault(f, f) != f:
            parent[f] = parent[parent[f]]
            f = parent[f]
        return f

    firsts = []
    for mask, _ in groups:
        flows = iter(_bits(mask))
        first = root(next(flows))
        for f in flows:
            other = root(f)
            if other != first:
                parent[other] = first
        firsts.append(first)
    parts: dict[int, list[tuple[int, int]]] = {}
    for g, first in zip(groups, firsts):
        parts.setdefault(root(first), []).append(g)
    return [sorted(part, key=lambda g: (g[0].bit_count(), g[0])) for part in parts.values()]


def _curve(groups: list[tuple[int, int]], need: int, apps: int, recent: int, budget: int,
           spent: list[int]) -> tuple[dict[int, tuple[tuple[int, int, int], int]], bool]:
    """A component's cheapest answer (cost, flows) per number of its items freed (1 .. need),
    and whether every one is proven."""
    total = sum(k for _, k in groups)
    top = min(need, total)
    curve: dict[int, tuple[tuple[int, int, int], int]] = {}
    if len(groups) <= SMALL:
        for r in range(1, len(groups) + 1):
            for chosen in combinations(groups, r):
                used = 0
                for m, _ in chosen:
                    used |= m
                freed = min(top, sum(k for m, k in groups if m & ~used == 0))
                cost = _cost(used, apps, recent)
                if freed not in curve or cost < curve[freed][0]:
                    curve[freed] = (cost, used)
        spent[0] += len(groups) << len(groups)
        proven = True
    else:
        proven = True
        path = _greedy_path(_Problem(groups, top, apps, recent))  # a first answer for every count
        for m in range(1, top + 1):
            if spent[0] >= budget:  # the budget is spent: the greedy answers stand, unproven
                proven = False
                curve[m] = (_cost(path[m], apps, recent), path[m])
                continue
            used, ok = _search(groups, m, apps, recent, budget - spent[0], spent, path[m])
            proven &= ok
            curve[m] = (_cost(used, apps, recent), used)
    # freeing more is also freeing fewer: each count takes the cheapest answer freeing at least it
    best = None
    for m in range(top, 0, -1):
        if m in curve and (best is None or curve[m][0] < best[0]):
            best = curve[m]
        if best is not None:
            curve[m] = best
    return curve, proven


def _search(groups: list[tuple[int, int]], need: int, apps: int, recent: int, budget: int,
            spent: list[int], start: int) -> tuple[int, bool]:
    """Depth-first branch and bound over the item groups (include: every flow of the group is
    disabled; exclude: the group stays, so no later choice may free it), from a greedy answer.
    Returns the best flows found and whether the search finished within `budget` (candidates looked
    at, summed over the nodes)."""
    counted = dict(groups)
    best_mask = start  # an answer to improve on (a greedy one)
    best = _cost(best_mask, apps, recent)
    nodes = 0
    # each entry: (flows disabled, items freed so far, candidates (mask, count) not freed, masks excluded)
    stack: list[tuple[int, int, list[tuple[int, int]], tuple[int, ...]]] = [(0, 0, list(groups), ())]
    finished = True
    while stack:
        used, freed, cands, excluded = stack.pop()
        nodes += 1 + len(cands) + sum(m.bit_count() for m, _ in cands)
        if nodes > budget:
            finished = False
            break
        left = need - freed
        if left <= 0:
            cost = _cost(used, apps, recent)
            if cost < best:
                best, best_mask = cost, used
            continue
        room = best[0] - used.bit_count()  # flows an improving answer may still add
        cands = [(m, k) for m, k in cands if (m & ~used).bit_count() <= room]
        if sum(k for _, k in cands) < left:
            continue
        bound = used.bit_count() + _lower_bound(used, cands, left)
        if (bound, (used & apps).bit_count(), (used & recent).bit_count()) >= best:
            continue
        # branch on the candidate freeing the most items per new flow, the cheapest in ties
        j = min(range(len(cands)), key=lambda i: ((cands[i][0] & ~used).bit_count() / cands[i][1],
                                                  _cost(cands[i][0] & ~used, apps, recent), cands[i][0]))
        mask, _ = cands[j]
        rest = cands[:j] + cands[j + 1:]
        # exclude it (pushed first: the include branch is searched first); dominance: an item whose
        # flows hold all of its flows cannot be freed without freeing it, so it is excluded too
        stack.append((used, freed, [c for c in rest if c[0] & mask != mask], excluded + (mask,)))
        grown = used | mask
        if any(e & ~grown == 0 for e in excluded):
            continue  # including it frees an item this branch keeps: another branch holds that answer
        gained = freed + counted[mask]
        remaining = []
        for m, k in rest:
            if m & ~grown == 0:
                gained += k
            else:
                remaining.append((m, k))
        stack.append((grown, gained, remaining, excluded))
    spent[0] += nodes
    return best_mask, finished


def _greedy(problem: _Problem) -> int:
    """A first answer: repeatedly free the group costing the fewest new flows per item freed."""
    return _greedy_path(problem)[problem.need]


def _greedy_path(problem: _Problem) -> dict[int, int]:
    """The greedy answers on the way to `need`: for each count of items freed up to it, the flows
    of the first greedy step that frees at least that many."""
    used, freed = 0, 0
    path: dict[int, int] = {}
    groups = list(problem.groups)
    while freed < problem.need:
        j = min(range(len(groups)), key=lambda i: ((groups[i][0] & ~used).bit_count() / groups[i][1],
                                                   _cost(groups[i][0] & ~used, problem.apps, problem.recent),
                                                   groups[i][0]))
        used |= groups[j][0]
        kept = []
        before = freed
        for m, k in groups:
            if m & ~used == 0:
                freed += k
            else:
                kept.append((m, k))
        groups = kept
        for at in range(before + 1, min(freed, problem.need) + 1):
            path[at] = used
    return path


# ---------------------------------------------------------------------------------------------
# the options of one environment

@dataclass
class Limits:
    """One environment's standing on one metric."""

    metric: str
    used: int
    entitled: int | None
    status: str  # over | near | within | unknown
    target: int | None  # the most it may use to be within (over) or below the near mark (near)
    share: float | None  # the near mark in force, when a near rule for the metric runs


def standing(metric: str, used: int, entitled, share: float | None, expired: bool) -> Limits:
    """Where a metric stands: over its entitlement, near it (at or above the `share` the metric's
    near-entitlement rule uses, as that rule compares), within, or unknown (no entitlement, or an
    expired license's)."""
    if expired or entitled is None or pd.isna(entitled):
        return Limits(metric, used, None, "unknown", None, share)
    entitled = int(entitled)
    if used > entitled:
        return Limits(metric, used, entitled, "over", entitled, share)
    if share is not None and used > 0 and entitled > 0 and used / entitled >= share:
        target = used
        while target > 0 and target / entitled >= share:
            target -= 1
        return Limits(metric, used, entitled, "near", target, share)
    return Limits(metric, used, entitled, "within", entitled, share)


@dataclass
class EnvironmentFacts:
    """What one environment's advice is worked out from."""

    environment: str
    pool: str
    plan: str
    counts_runs: bool  # the plan counts flows run in the month (disabling changes next month's count)
    license_expired: str | None
    limits: dict[str, Limits]
    endpoints: pd.DataFrame  # its rows of the endpoints frame
    trading_partners: pd.DataFrame
    flows: pd.DataFrame  # its rows of the flows frame (with last_run when known)
    connections: pd.DataFrame  # the account's connections (identity columns)
    agents: pd.DataFrame | None = None  # its on-premise agents (key) with the flows and others reaching them
    # connections (of a legacy account: its environments share them) reached from another environment too
    elsewhere: frozenset = frozenset()
    as_of: object = None
    run_month: str | None = None
    account: str | None = None  # named in the whatif arguments, with the environment


def _said(n: int, metric: str) -> str:
    one, many = NOUNS[metric]
    return plural(n, one, many)


def _flow_label(names: dict, fid: str) -> str:
    name = names.get(fid)
    return f"{name} ({fid})" if isinstance(name, str) and name and name != fid else fid


def _listed(items: list[str]) -> str:
    if len(items) <= WHY_ITEMS:
        return "; ".join(items)
    return "; ".join(items[:WHY_ITEMS]) + f"; and {len(items) - WHY_ITEMS:,} more"


class _Reach:
    """An environment's flows and what each frees: the items of each metric (endpoints, trading
    partners) with the flows reaching them, and which can be freed by disabling flows at all."""

    def __init__(self, facts: EnvironmentFacts):
        self.facts = facts
        flows = facts.flows
        found: dict[str, list[tuple[str, list[str]]]] = {}
        self.fixed: dict[str, list[tuple[str, list[str]]]] = {}  # metric -> (key, what else reaches it)
        agents = facts.agents if facts.agents is not None else pd.DataFrame(columns=["key", "flows", "reached_by"])
        for metric, frame in (("endpoints", facts.endpoints), ("trading_partners", facts.trading_partners),
                              ("agents", agents)):
            found[metric], self.fixed[metric] = [], []
            for key, fl, by in zip(frame["key"], frame["flows"], frame["reached_by"]):
                fl, by = _items(fl), _items(by)
                if by or not fl:
                    self.fixed[metric].append((key, by))
                else:
                    found[metric].append((key, fl))
        # plain lists: a pandas filter per environment cost milliseconds, at thousands of environments
        ids = flows["id"].tolist()
        self.billable = {f for f, b in zip(ids, flows["billable"].tolist()) if b is True or b == 1}
        self.names = dict(zip(ids, flows["name"].tolist())) if "name" in flows else {}
        # flows numbered in id order: among answers equal in every preference, the search keeps
        # the one of the lowest ids, whatever order the frames came in
        self.flow_ids: list[str] = sorted(self.billable | {f for items in found.values() for _, fl in items for f in fl})
        self.index: dict[str, int] = {f: i for i, f in enumerate(self.flow_ids)}
        self.items: dict[str, list[tuple[str, list[int]]]] = {  # metric -> (key, flow indices), freeable
            metric: [(key, [self.index[f] for f in fl]) for key, fl in sorted(items)] for metric, items in found.items()}
        apps = [f for f, a in zip(ids, flows["integration_app"].tolist()) if isinstance(a, str)] \
            if "integration_app" in flows else []
        self.apps = {self.index[f] for f in apps if f in self.index}
        recent = [f for f, r in zip(ids, flows["_recent"].tolist()) if r is True] if "_recent" in flows \
            else _recent(flows, facts.as_of)
        self.recent = {self.index[f] for f in recent if f in self.index}


    def freed(self, chosen: set[str]) -> dict[str, list[str]]:
        """What disabling `chosen` frees, per metric: the keys all of whose flows are chosen."""
        ids = {self.index[f] for f in chosen if f in self.index}
        return {metric: [key for key, fl in items if set(fl) <= ids] for metric, items in self.items.items()}

    def saves(self, chosen: set[str]) -> tuple[dict[str, int], dict[str, list[str]]]:
        freed = self.freed(chosen)
        saves = {"endpoints": len(freed["endpoints"]), "flows": len(chosen & self.billable),
                 "trading_partners": len(freed["trading_partners"]), "agents": len(freed["agents"])}
        return {k: v for k, v in saves.items() if v}, freed


def _items(value) -> list:
    """A list column's value as a list (a missing list, None or NaN, is empty)."""
    return list(value) if hasattr(value, "__len__") and not isinstance(value, str) else []


def _recent_rows(flows: pd.DataFrame, as_of) -> pd.Series:
    """Whether each flow is known to have run within IDLE_DAYS of the audit date (by last_run)."""
    if "last_run" not in flows or as_of is None:
        return pd.Series(False, index=flows.index)
    last = pd.to_datetime(flows["last_run"], errors="coerce", utc=True)
    since = pd.Timestamp(as_of, tz="UTC") - pd.Timedelta(days=IDLE_DAYS)
    return (last.notna() & (last >= since)).astype(bool)


def _recent(flows: pd.DataFrame, as_of) -> set[str]:
    """The flows of one environment known to have run within IDLE_DAYS of the audit date."""
    return set(flows.loc[_recent_rows(flows, as_of), "id"])


def _after(limits: dict[str, Limits], metric: str, saves: dict[str, int]) -> tuple[dict[str, int], str]:
    """Each count an option changes (and its own metric's), once it is done, and that in words
    against the entitlements ('3 of 3 endpoints licensed, 2 of 3 billable flows licensed')."""
    after = {m: limits[m].used - saves.get(m, 0) for m in NOUNS if m in limits and (m in saves or m == metric)}
    said = [f"{_said(n, m)}" + (f" of {limits[m].entitled:,} licensed" if limits[m].entitled is not None else "")
            for m, n in after.items()]
    return after, "after it: " + ", ".join(said)


def _disable_option(reach: _Reach, metric: str, chosen: list[str], lim: Limits, how: str,
                    proven: bool | None = None, bound: int | None = None) -> dict:
    saves, freed = reach.saves(set(chosen))
    counts, after_said = _after(reach.facts.limits, metric, saves)
    enough = lim.target is not None and counts[metric] <= lim.target
    labels = [_flow_label(reach.names, f) for f in chosen]
    parts = [_said(saves[m], m) for m in ("endpoints", "trading_partners", "agents", "flows") if saves.get(m)]
    freed_said = ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)
    action = f"Disable {plural(len(chosen), 'flow')} ({', '.join(labels)})" + (
        f": frees {freed_said}" if parts else "")
    evidence = []
    for m in ("endpoints", "trading_partners", "agents"):
        items = dict(reach.items[m])
        for key in freed[m]:
            by = ", ".join(reach.flow_ids[i] for i in items[key])
            evidence.append(f"{NOUNS[m][0]} {key} is reached only by {by}")
    apps = [f for f in chosen if reach.index.get(f) in reach.apps]
    recent = [f for f in chosen if reach.index.get(f) in reach.recent]
    why = [how]
    if evidence:
        why.append(_listed(evidence))
    if apps:
        why.append(f"{plural(len(apps), 'integration-app flow')} among them ({', '.join(apps)}): the limit cannot be "
                   "reached without them")
    if recent:
        why.append(f"{plural(len(recent), 'flow')} among them ran within {IDLE_DAYS} days ({', '.join(recent)})")
    why.append(after_said)
    return {"kind": "disable-flows", "metric": metric, "action": action, "why": "; ".join(why) + ".",
            "flows": list(chosen), "connections": [],
            "endpoints": freed["endpoints"] + freed["trading_partners"] + freed["agents"],
            "saves": saves, "enough": enough, "proven": proven, "fewest_bound": bound, "after": counts,
            "whatif": [a for f in chosen for a in ("--disable-flow", f)], "money": []}


def _disable_for_items(reach: _Reach, metric: str, lim: Limits, budget: int) -> tuple[dict | None, str | None]:
    need = lim.used - lim.target
    items = reach.items[metric]
    fixed = reach.fixed[metric]
    fixed_note = None
    if fixed:
        named = [f"{key} (reached by {', '.join(by)})" if by else key for key, by in fixed]
        fixed_note = (f"{_said(len(fixed), metric)} cannot be freed by disabling flows, as an API, a tool or a sync "
                      f"reaches {'it' if len(fixed) == 1 else 'them'}: {_listed(named)}")
    if not items:
        return None, fixed_note
    short = len(items) < need
    want = len(items) if short else need
    non_app = [fl for _, fl in items if not set(fl) & reach.apps]
    apps_needed = len(non_app) < want
    pool = [fl for _, fl in items] if apps_needed else non_app
    sol = fewest_flows(pool, want, reach.apps, reach.recent, budget)
    if sol is None:  # cannot happen: `want` is at most the items offered
        return None, fixed_note
    chosen = [reach.flow_ids[i] for i in sol.flows]
    if sol.exact:
        how = (f"the fewest flows that free {_said(want, metric)} ({plural(len(chosen), 'flow')}, proven by an exact "
               f"search)")
    else:
        how = (f"not proven the fewest: the search stopped at its budget of {budget:,} steps; no answer needs fewer "
               f"than {plural(sol.bound, 'flow')}")
    if short:
        how = (f"only {_said(len(items), metric)} can be freed by disabling flows, short of the "
               f"{_said(need, metric)} needed; {how}")
    if apps_needed:
        how += "; integration-app flows are chosen only because the limit cannot be reached without them"
    return _disable_option(reach, metric, chosen, lim, how, sol.exact, sol.bound), fixed_note


def _disable_for_flows(reach: _Reach, lim: Limits) -> dict | None:
    """The flow limit: the fewest flows to disable is the overage; which ones: not integration-app
    flows, then not ones that ran lately, then those freeing the most endpoints alone, then by id."""
    need = lim.used - lim.target
    if need <= 0 or not reach.billable:
        return None
    alone = {}
    for metric in ("endpoints", "trading_partners", "agents"):
        for _, fl in reach.items[metric]:
            if len(set(fl)) == 1:
                alone[fl[0]] = alone.get(fl[0], 0) + 1
    ranked = sorted(reach.billable, key=lambda f: (reach.index[f] in reach.apps, reach.index[f] in reach.recent,
                                                   -alone.get(reach.index[f], 0), f))
    chosen = sorted(ranked[:need])
    how = (f"{plural(need, 'billable flow')} over the mark, so {plural(need, 'flow')} is the fewest; chosen: "
           "not integration-app flows, then flows not run lately, then those that alone reach an endpoint "
           "(freeing it too)")
    return _disable_option(reach, "flows", chosen, lim, how, True, need)


# what identifies the system behind a connection, beyond the endpoint key: connections of one
# system keyed apart are what consolidating merges
def _system(row: dict) -> str | None:
    kind = row.get("type")
    if kind in ("http", "rest", "mcp") and isinstance(row.get("uri_host"), str):
        return f"host {row['uri_host']}"
    if kind == "netsuite" and isinstance(row.get("netsuite_account"), str) and not row.get("netsuite_sandbox"):
        return f"NetSuite account {row['netsuite_account'].upper()}"
    if kind == "salesforce" and isinstance(row.get("salesforce_org"), str):
        return f"Salesforce org {row['salesforce_org']}"
    return None


def _agent(row: dict) -> str | None:
    agent = row.get("agent_id")
    return agent if isinstance(agent, str) else None


def _consolidate(facts: EnvironmentFacts, lim: Limits) -> list[dict]:
    conns = facts.connections
    members_all = {c for members in facts.endpoints["connections"] for c in _items(members)}
    wanted = [c for c in ("id", "type", "uri_host", "netsuite_account", "netsuite_sandbox", "salesforce_org",
                          "enabled_flows", "agent_id", "environment") if c in conns]
    # a multi-environment account's connection ids are per environment (scope); a legacy one's '*'
    scopes = conns["scope"].tolist() if "scope" in conns else [None] * len(conns)
    by_id = {}
    for scope, values in zip(scopes, zip(*(conns[c].tolist() for c in wanted))):
        row = dict(zip(wanted, values))
        if row["id"] in members_all and scope in (None, "*", facts.environment):
            by_id[row["id"]] = row
    systems: dict[str, list[tuple[str, list[str], int]]] = {}
    for key, members, fl, by in zip(facts.endpoints["key"], facts.endpoints["connections"],
                                    facts.endpoints["flows"], facts.endpoints["reached_by"]):
        members = [] if members is None else list(members)
        found = {_system(by_id[c]) for c in members if c in by_id}
        if len(found) != 1 or None in found:
            continue
        weight = len(fl if fl is not None else []) + len(by if by is not None else [])
        systems.setdefault(found.pop(), []).append((key, members, weight))
    options = []
    for system, keys in sorted(systems.items()):
        if len(keys) < 2:
            continue
        keys.sort(key=lambda k: (-k[2], k[0]))
        keep_key, keep_members, _ = keys[0]
        keep = max(keep_members, key=lambda c: (by_id[c].get("enabled_flows", 0), c)) \
            if all(c in by_id for c in keep_members) else keep_members[0]
        agent = _agent(by_id[keep]) if keep in by_id else None
        # where whatif finds the connections: their own environment (a legacy account's sandbox
        # flows may reach production's connections); whatif merges connections of one environment
        home = by_id[keep].get("environment", facts.environment) if keep in by_id else facts.environment
        # a key is merged away only whole, and only when merging changes nothing but this
        # environment's endpoints: none of its connections is reached from another environment (a
        # legacy account's environments share connections) or runs through another agent
        movable = [k for k in keys[1:] if all(c in by_id and c not in facts.elsewhere and _agent(by_id[c]) == agent
                                              and by_id[c].get("environment", facts.environment) == home
                                              for c in k[1])]
        if not movable:
            continue
        keys = [keys[0], *movable]
        merged = [c for _, members, _ in keys[1:] for c in members]
        saves = len(keys) - 1
        names = ", ".join(k for k, _, _ in keys)
        kind = system.split(" ")[0]
        meaning = ("point the exports and imports of the merged connections at the kept one, moving what differs "
                   "in the base URI (a version, a path) into their relative URIs, then delete the merged ones"
                   if kind == "host" else
                   "point the exports and imports of the merged connections at the kept one, then delete the "
                   "merged ones")
        options.append({
            "kind": "consolidate", "metric": "endpoints",
            "action": f"Merge {plural(len(merged), 'connection')} ({', '.join(merged)}) into {keep}: {system} "
                      f"counts once instead of {len(keys)} times",
            "why": f"{system} is counted as {plural(len(keys), 'endpoint')} ({names}), as the policy keys each apart; "
                   f"to merge, {meaning}; {_after(facts.limits, 'endpoints', {'endpoints': saves})[1]}.",
            "flows": [], "connections": [keep, *merged], "endpoints": [k for k, _, _ in keys[1:]],
            "saves": {"endpoints": saves}, "after": _after(facts.limits, "endpoints", {"endpoints": saves})[0],
            "enough": lim.target is not None and lim.used - saves <= lim.target,
            "whatif": ["--env", home, "--merge-connections", merge_group([keep, *merged])], "money": []})
    return options


def _buy(lim: Limits) -> dict:
    n = buy_count(lim)
    one, many = NOUNS[lim.metric]
    noun = one if n == 1 else many
    if lim.status == "over":
        why = f"{lim.used:,} in use against {lim.entitled:,} licensed: {n:,} over"
    else:
        why = (f"{lim.used:,} in use of {lim.entitled:,} licensed, at or above the {lim.share:.0%} mark; "
               f"{lim.entitled + n:,} licensed puts it below")
    return {"kind": "buy", "metric": lim.metric, "action": f"Buy {n:,} add-on {noun}", "why": why + ".",
            "flows": [], "connections": [], "endpoints": [], "saves": {lim.metric: n}, "enough": True,
            "whatif": [], "money": []}


def buy_count(lim: Limits) -> int:
    """How many add-ons bring the metric within (over) or below the near mark (near)."""
    if lim.status == "over":
        return lim.used - lim.entitled
    n = 1
    while lim.used / (lim.entitled + n) >= lim.share:
        n += 1
    return n


def advise_environment(facts: EnvironmentFacts, budget: int = NODE_BUDGET) -> dict:
    """An environment's advice, as the results file's EnvironmentAdvice."""
    limits = facts.limits
    if facts.license_expired:
        return {"status": "unknown", "options": [],
                "note": f"no advice: the license the entitlements come from expired on {facts.license_expired}, "
                        "so what the environment is entitled to now is unknown"}
    statuses = {m: lim.status for m, lim in limits.items()}
    act = [m for m in ("endpoints", "flows", "trading_partners", "agents") if statuses.get(m) in ("over", "near")]
    known = [m for m, s in statuses.items() if s != "unknown"]
    if not act:
        if not known:
            return {"status": "unknown", "options": [],
                    "note": "no advice: no license gives this environment an entitlement to measure against"}
        status = "within"
        note = "nothing to do: " + "; ".join(
            f"{_said(limits[m].used, m)} of {limits[m].entitled:,} licensed" for m in known)
        unknown = [NOUNS[m][1] for m, s in statuses.items() if s == "unknown"]
        if unknown:
            note += f" ({', '.join(unknown)}: no entitlement to measure against)"
        return {"status": status, "note": note, "options": []}
    status = "over" if any(statuses[m] == "over" for m in act) else "near"
    reach = _Reach(facts)
    options: list[dict] = []
    notes: list[str] = []
    for metric in act:
        lim = limits[metric]
        where = (f"{_said(lim.used, metric)} against {lim.entitled:,} licensed" if lim.status == "over" else
                 f"{_said(lim.used, metric)} of {lim.entitled:,} licensed, at or above the {lim.share:.0%} mark")
        notes.append(where)
        if metric in ("endpoints", "trading_partners", "flows", "agents"):
            if facts.counts_runs:
                notes.append(f"disabling flows is no option for the {NOUNS[metric][1]} of {facts.run_month}: the "
                             "platform plan counts the flows that ran in the month, so it lowers next month's count")
            elif metric == "flows":
                opt = _disable_for_flows(reach, lim)
                if opt:
                    options.append(opt)
            else:
                opt, fixed = _disable_for_items(reach, metric, lim, budget)
                if opt:
                    options.append(opt)
                if fixed:
                    notes.append(fixed)
        if metric == "endpoints":
            options += _consolidate(facts, lim)
        if metric == "agents":
            notes.append("on-premise agents: moving connections onto fewer agents is another way")
        options.append(_buy(lim))
    where = ["--account", facts.account] if facts.account is not None else []
    for opt in options:  # whatif looks ids up where it is told: a flow id may be in several environments
        if opt["whatif"]:
            # a flow is this environment's; a connection names its own (consolidate says it)
            env = [] if opt["whatif"][0] == "--env" else ["--env", facts.environment]
            opt["whatif"] = [*where, *env, *opt["whatif"]]
    return {"status": status, "note": "; ".join(notes), "options": options}


def advise(environments: pd.DataFrame, endpoints: pd.DataFrame, trading_partners: pd.DataFrame,
           flows: pd.DataFrame, connections: pd.DataFrame, plans: pd.DataFrame, shares: dict[str, float],
           as_of=None, budget: int = NODE_BUDGET, run_month: str | None = None,
           agents: pd.DataFrame | None = None) -> list[dict]:
    """The advice of every row of `environments` (the account run's frames), in its order.
    `shares`: per metric, the share its near-entitlement rule in force uses (a metric without one
    is never near). `plans`: account_no, plan, counts_runs. `agents`: per account_no, environment
    and agent (key), the flows and others (reached_by) reaching its connections."""
    counts_runs = dict(zip(plans["account_no"], plans.get("counts_runs", pd.Series(False, index=plans.index))))

    def split(frame: pd.DataFrame) -> dict:
        return {k: g for k, g in frame.groupby(["account_no", "environment"], sort=False)} if len(frame) else {}

    if "last_run" in flows and as_of is not None:  # once for all environments: ran within IDLE_DAYS
        flows = flows.assign(_recent=_recent_rows(flows, as_of))
    ep, tp, fl = split(endpoints), split(trading_partners), split(flows)
    ag = split(agents) if agents is not None else {}
    # a legacy account's environments share their connections: which are reached from which
    reached: dict[int, dict[str, set[str]]] = {}
    legacy = set(environments.loc[environments["license_model"] == "legacy", "account_no"]) \
        if "license_model" in environments else set()
    for frame in (endpoints, trading_partners):
        if len(frame):
            for no, env, members in zip(frame["account_no"], frame["environment"], frame["connections"]):
                if no in legacy:
                    for c in _items(members):
                        reached.setdefault(no, {}).setdefault(c, set()).add(env)
    conns = {no: g for no, g in connections.groupby("account_no", sort=False)} if len(connections) else {}
    empty = {"endpoints": endpoints.iloc[:0], "tps": trading_partners.iloc[:0], "flows": flows.iloc[:0],
             "conns": connections.iloc[:0]}
    out = []
    for row in environments.to_dict("records"):
        no, env = row["account_no"], row["environment"]
        expired = row.get("license_expired")
        expired = None if expired is None or pd.isna(expired) else str(expired)
        limits = {m: standing(m, int(row[USED_COLUMN[m]]), row[f"{m}_entitled"], shares.get(m), bool(expired))
                  for m in USED_COLUMN}
        facts = EnvironmentFacts(env, row.get("pool") or "production", row.get("plan"),
                                 bool(counts_runs.get(no, False)), expired, limits,
                                 ep.get((no, env), empty["endpoints"]), tp.get((no, env), empty["tps"]),
                                 fl.get((no, env), empty["flows"]), conns.get(no, empty["conns"]), as_of=as_of,
                                 run_month=run_month, account=row.get("account"), agents=ag.get((no, env)),
                                 elsewhere=frozenset(c for c, envs in reached.get(no, {}).items() if envs - {env}))
        out.append(advise_environment(facts, budget))
    return out


def price_options(options: list[dict], limits_over: dict[str, int], pool: str,
                  price: Callable[[str, str, int], list[dict] | None] | None) -> None:
    """Fill each option's `money` in place: what buying costs, or what an option saves in add-ons
    no longer needed (at most the overage of each metric). `price(metric, pool, n)` gives a list of
    {currency, amount} (None: no price for it)."""
    if price is None:
        return
    for opt in options:
        if opt["kind"] == "buy":
            amounts = price(opt["metric"], pool, next(iter(opt["saves"].values()))) or []
        else:
            amounts = []
            for metric, n in opt["saves"].items():
                avoided = min(n, limits_over.get(metric, 0))
                if avoided:
                    amounts += price(metric, pool, avoided) or []
        totals: dict[str, Decimal] = {}
        for a in amounts:  # each amount is rounded to its currency's minor unit: their sum is exact
            totals[a["currency"]] = totals.get(a["currency"], Decimal(0)) + Decimal(str(a["amount"]))
        opt["money"] = [{"currency": c, "amount": float(v)} for c, v in sorted(totals.items())]


__all__ = ["advise", "advise_environment", "fewest_flows", "price_options", "standing", "buy_count", "Solution",
           "EnvironmentFacts", "Limits", "NODE_BUDGET", "IDLE_DAYS"]


def merge_ids(group: str) -> tuple[str, ...]:
    """The ids of one --merge-connections group: separated by commas; an id that holds a comma or a
    backslash writes it escaped (`\\,`, `\\\\`), as merge_group writes it (the
    argument of 'auditor whatif --merge-connections')."""
    ids, current, chars = [], [], iter(group)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, "\\"))
        elif ch == ",":
            ids.append("".join(current))
            current = []
        else:
            current.append(ch)
    ids.append("".join(current))
    return tuple(ids)


def merge_group(ids) -> str:
    """The --merge-connections argument of `ids` (the first kept), each comma or backslash in an id
    escaped so that merge_ids reads the same ids back."""
    return ",".join(i.replace("\\", "\\\\").replace(",", "\\,") for i in ids)
