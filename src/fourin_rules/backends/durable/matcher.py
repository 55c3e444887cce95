"""The durable_rules backend: the plan's predicates as durable_rules rulesets over facts.

durable_rules (2.0.28, the last release) has traps measured in the design notes; each is fenced
here, and each fence has a test in ``tests/test_durable_traps.py``:

- *An event is consumed by the first matching rule.* We assert **facts** (then retract them),
  so every rule whose condition holds fires.
- *Identity is a 32-bit FNV-1a hash of the fact id, with no string compare.* Our ids never reach
  the engine: each fact gets a surrogate id, and a surrogate whose hash equals that of a fact still
  in working memory is skipped (:class:`SurrogateIds`).
- *At most 1,024 sids per ruleset; colliding sids share memory.* Every fact goes to the one
  default sid: subjects (cadres, townships) are never sids, so their number is unbounded.
- *512 sibling conditions fail (error 303) or hang.* At most :data:`RULES_PER_RULESET` rules per
  ruleset and at most 64 alternatives per ``in`` (longer lists are tested in Python).
- *About 8.8 KB per stored fact, never returned.* Facts live only for one batch: asserted,
  actions drained, retracted. Event-time state lives in :mod:`fourin_rules.runtime`,
  which evicts it.
- *Actions run on a background thread every 0.2 s.* :class:`SyncHost` starts no threads; we
  drain the actions ourselves before ``match`` returns.
- *Type coercion is wrong.* See :mod:`.translate`: only same-typed comparisons are pushed.
- *An exception in an action is swallowed.* Our action only records (rule, fact); rule code runs
  outside the engine, where its errors are caught and reported per rule and event.
- *An undefined alias is ignored.* We use one alias (``m``) and build conditions ourselves.
- *Timers are wall-clock.* We use none: time is the runtime's watermark.
- *``$or`` fires once per alternative that holds* (found here: durable_rules expands a
  disjunction into separate rules). Hits are deduplicated per (fact, predicate).
- *A batch in which some fact matches no rule raises MessageNotHandledException* and leaves the
  other facts' actions queued: we catch it and drain the queue.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from durable import engine as dr

from fourin_rules.backends.base import Hit, RuleError
from fourin_rules.backends.bindings import BoundPredicate
from fourin_rules.backends.durable.translate import Translation, fact_value, translate
from fourin_rules.expr import EvalContext, compile_predicate
from fourin_rules.plan import Plan, Predicate

RULES_PER_RULESET = 100
_instances = itertools.count()


def fnv1a_32(text: str) -> int:
    """The 32-bit FNV-1a hash durable_rules uses for fact identity."""
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h ^= byte
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


class SurrogateIds:
    """Fact ids that are unique *by hash* among the facts in working memory."""

    def __init__(self) -> None:
        self._next = 0
        self._live: set[int] = set()

    def take(self) -> str:
        while True:
            sid = f"f{self._next}"
            self._next += 1
            h = fnv1a_32(sid)
            if h not in self._live:
                self._live.add(h)
                return sid

    def release_all(self) -> None:
        self._live.clear()


class SyncHost(dr.Host):
    """A durable_rules host with no background threads: we run the actions ourselves."""

    def _run(self) -> None:  # the base class starts two timer threads here
        return


@dataclass
class _Group:
    """Predicates of one event type that bind the same variables, so they can share facts."""

    type: str
    binder: BoundPredicate  # binds the variables (for_each element, lets) for the group
    predicates: list[Predicate]
    translations: list[Translation]
    leaves: list[Any]  # compiled Python leaves, indexed as _p<N>
    leaf_rules: list[str]
    fields: dict[str, str]
    rulesets: list[str]


class DurableMatcher:
    """Tests predicates with durable_rules, one batch of events at a time."""

    name = "durable"

    def __init__(self, plan: Plan, env: Any, *, rules_per_ruleset: int = RULES_PER_RULESET) -> None:
        self.env = env
        self.errors: list[RuleError] = []
        self.host = SyncHost()
        self.ids = SurrogateIds()
        self._fired: list[tuple[str, int]] = []  # (fact id, predicate id) recorded by actions
        self.groups: dict[str, list[_Group]] = {}
        prefix = f"fourin{next(_instances)}"
        definitions: dict[str, dict[str, Any]] = {}
        for type_name, preds in sorted(plan.predicates_by_type().items()):
            by_binding: dict[tuple[Any, ...], list[Predicate]] = {}
            for p in preds:
                by_binding.setdefault((p.for_each, p.lets), []).append(p)
            for g_index, members in enumerate(by_binding.values()):
                group = self._build_group(type_name, members)
                for c_index in range(0, len(members), rules_per_ruleset):
                    name = f"{prefix}_{type_name}_{g_index}_{c_index // rules_per_ruleset}"
                    chunk = range(c_index, min(c_index + rules_per_ruleset, len(members)))
                    definitions[name] = {
                        f"r{members[i].id}": {
                            "all": [{"m": group.translations[i].condition}],
                            "run": self._action(members[i].id),
                        }
                        for i in chunk
                    }
                    group.rulesets.append(name)
                self.groups.setdefault(type_name, []).append(group)
        if definitions:
            self.host.set_rulesets(definitions)

    def _build_group(self, type_name: str, members: list[Predicate]) -> _Group:
        translations: list[Translation] = []
        leaves: list[Any] = []
        leaf_rules: list[str] = []
        fields: dict[str, str] = {}
        for p in members:
            tr = translate(p.where, leaf_offset=len(leaves))
            translations.append(tr)
            leaves.extend(compile_predicate(node) for node in tr.leaves)
            leaf_rules.extend(p.rule_id for _ in tr.leaves)
            fields.update(tr.fields)
        return _Group(
            type_name,
            BoundPredicate(members[0], self.env),
            members,
            translations,
            leaves,
            leaf_rules,
            fields,
            [],
        )

    def _action(self, predicate_id: int) -> Any:
        fired = self._fired

        def record(c: Any) -> None:
            fired.append((c.m["id"], predicate_id))

        return record

    def _fact(
        self,
        group: _Group,
        event: Mapping[str, Any],
        variables: Mapping[str, Any],
        failed: set[str],
        memo: dict,
    ) -> dict[str, Any]:
        fact: dict[str, Any] = {"id": self.ids.take(), "_one": 1}
        for name, ftype in group.fields.items():
            fact[name] = fact_value(event.get(name), ftype)
        ctx = EvalContext(event=event, env=self.env, variables=variables, memo=memo)
        for i, leaf in enumerate(group.leaves):
            rule_id = group.leaf_rules[i]
            if rule_id in failed:
                fact[f"_p{i}"] = False
                continue
            try:
                fact[f"_p{i}"] = bool(leaf(ctx))
            except Exception as exc:  # reported per rule and event; the other rules go on
                failed.add(rule_id)
                fact[f"_p{i}"] = False
                self.errors.append(
                    RuleError(rule_id, event["type"], event["id"], f"{type(exc).__name__}: {exc}")
                )
        return fact

    def match(self, events: Sequence[Mapping[str, Any]]) -> list[list[Hit]]:
        hits: list[list[Hit]] = [[] for _ in events]
        owners: dict[str, tuple[int, Mapping[str, Any], frozenset[str]]] = {}
        batches: dict[str, list[dict[str, Any]]] = {}
        for index, event in enumerate(events):
            memo: dict = {}  # lookups shared by every predicate tested on this event
            for group in self.groups.get(event["type"], ()):
                failed: set[str] = set()
                try:
                    bindings = list(group.binder.bindings(event, memo))
                except Exception as exc:
                    for rule_id in {p.rule_id for p in group.predicates}:
                        self.errors.append(
                            RuleError(
                                rule_id, event["type"], event["id"], f"{type(exc).__name__}: {exc}"
                            )
                        )
                    continue
                for variables in bindings:
                    fact = self._fact(group, event, variables, failed, memo)
                    owners[fact["id"]] = (index, variables, frozenset(failed))
                    for name in group.rulesets:
                        batches.setdefault(name, []).append(fact)
        for name, facts in batches.items():
            self._run_batch(name, facts)
        # durable_rules expands `$or` into one rule per alternative and fires each that holds:
        # one (fact, predicate) pair is one hit, however many alternatives matched.
        for fact_id, predicate_id in dict.fromkeys(self._fired):
            index, variables, _failed = owners[fact_id]
            hits[index].append(Hit(predicate_id, variables))
        self._fired.clear()
        self.ids.release_all()
        for per_event in hits:
            per_event.sort(key=lambda h: h.predicate)
        return hits

    def _run_batch(self, ruleset_name: str, facts: list[dict[str, Any]]) -> None:
        ruleset = self.host.get_ruleset(ruleset_name)
        # Some facts matched no rule: the engine raises, and the others' actions stay queued.
        with contextlib.suppress(dr.MessageNotHandledException):
            self.host.assert_facts(ruleset_name, facts)
        self._drain(ruleset)
        with contextlib.suppress(dr.MessageNotHandledException):
            self.host.retract_facts(ruleset_name, facts)
        self._drain(ruleset)

    def _drain(self, ruleset: Any) -> None:
        """Run every queued action now (the engine would otherwise wait for its thread)."""
        while True:
            before = len(self._fired)
            ruleset.dispatch()
            if len(self._fired) == before:
                return

    def close(self) -> None:
        self.groups.clear()


class DurableBackend:
    name = "durable"

    def check(self, plan: Plan) -> list[str]:
        return []

    def matcher(self, plan: Plan, env: Any) -> DurableMatcher:
        return DurableMatcher(plan, env)
