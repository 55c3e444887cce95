"""Each measured trap of durable_rules, shown to be real, and shown to be fenced by our backend."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from durable import engine as dr

from fourin_rules.backends.durable.matcher import DurableMatcher, SurrogateIds, SyncHost, fnv1a_32
from fourin_rules.backends.durable.translate import translate
from fourin_rules.engine import Engine
from fourin_rules.errors import FourinError
from fourin_rules.expr import Scope, compile_expr

REFERENCE = Path(__file__).parents[1] / "rules" / "fixtures" / "small-county.yaml"
# Two ids with the same 32-bit FNV-1a hash (found by brute force over "evt-<n>").
COLLIDING = ("evt-462789", "evt-679192")

KTV_PACK = """
pack: {id: trap-pack, version: 1.0.0, title: {zh: 测试, en: test}}
rules:
  - id: R1
    clause: 不准公款娱乐
    kind: match
    title: {zh: 一, en: one}
    message: {zh: "{id}", en: "{id}"}
    on: card_txn
    when: mcc == "7911"
  - id: R2
    clause: 不准公款娱乐
    kind: match
    title: {zh: 二, en: two}
    message: {zh: "{id}", en: "{id}"}
    on: card_txn
    when: amount_cny > 100
"""


def _card(event_id: str, cadre: str = "K01", amount: float = 500, mcc: str = "7911") -> dict:
    return {
        "type": "card_txn",
        "id": event_id,
        "time": "2026-03-10T21:00:00+08:00",
        "cadre_id": cadre,
        "amount_cny": amount,
        "merchant_name": "KTV",
        "mcc": mcc,
    }


def _pack(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_colliding_ids_really_collide_and_durable_drops_the_second() -> None:
    assert COLLIDING[0] != COLLIDING[1]
    assert fnv1a_32(COLLIDING[0]) == fnv1a_32(COLLIDING[1])
    fired: list[str] = []
    host = SyncHost()
    host.set_rulesets(
        {"trap": {"r": {"all": [{"m": {"x": 1}}], "run": lambda c: fired.append(c.m["id"])}}}
    )
    host.assert_fact("trap", {"id": COLLIDING[0], "x": 1})
    with pytest.raises(dr.MessageObservedException):
        host.assert_fact(
            "trap", {"id": COLLIDING[1], "x": 1}
        )  # the trap: a different fact, refused
    assert fired == [COLLIDING[0]]


def test_events_with_colliding_ids_both_give_findings(tmp_path: Path) -> None:
    engine = Engine([_pack(tmp_path, KTV_PACK)], REFERENCE, backend="durable")
    result = engine.run([_card(COLLIDING[0]), _card(COLLIDING[1], cadre="K02")])
    got = sorted((f.rule_id, f.evidence[0].id, f.subject.id) for f in result.findings)
    assert got == sorted(
        (rule, eid, cadre)
        for rule in ("R1", "R2")
        for eid, cadre in ((COLLIDING[0], "K01"), (COLLIDING[1], "K02"))
    )


def test_surrogate_ids_never_share_a_hash_while_live() -> None:
    ids = SurrogateIds()
    taken = [ids.take() for _ in range(200_000)]
    hashes = [fnv1a_32(t) for t in taken]
    assert len(set(hashes)) == len(hashes)  # collisions among 200k sequential ids were skipped
    ids.release_all()
    assert ids.take() not in taken


def test_every_matching_rule_fires_for_one_event(tmp_path: Path) -> None:
    engine = Engine([_pack(tmp_path, KTV_PACK)], REFERENCE, backend="durable")
    result = engine.run([_card("x1")])
    assert sorted(f.rule_id for f in result.findings) == ["R1", "R2"]


def test_two_thousand_cadres_in_one_run(tmp_path: Path) -> None:
    engine = Engine([_pack(tmp_path, KTV_PACK)], REFERENCE, backend="durable")
    events = [_card(f"x{i}", cadre=f"C{i:04d}", amount=50) for i in range(2000)]
    result = engine.run(events)
    subjects = {f.subject.id for f in result.findings if f.rule_id == "R1"}
    assert len(subjects) == 2000
    assert not [f for f in result.findings if f.rule_id == "R2"]  # 50 is not > 100


def test_six_hundred_rules_on_one_field_neither_hang_nor_miss(tmp_path: Path) -> None:
    rules = "\n".join(
        f"""  - id: M{i}
    clause: 不准公款娱乐
    kind: match
    title: {{zh: 规则{i}, en: rule {i}}}
    message: {{zh: "{{id}}", en: "{{id}}"}}
    on: card_txn
    when: mcc == "{1000 + i}\""""
        for i in range(600)
    )
    text = "pack: {id: many, version: 1.0.0, title: {zh: 多, en: many}}\nrules:\n" + rules + "\n"
    engine = Engine([_pack(tmp_path, text)], REFERENCE, backend="durable")
    started = time.monotonic()
    result = engine.run([_card(f"x{i}", mcc=str(1000 + i)) for i in range(0, 600, 7)])
    assert time.monotonic() - started < 120  # a hang would stop here, not return wrong results
    assert sorted(f.rule_id for f in result.findings) == sorted(f"M{i}" for i in range(0, 600, 7))


def test_actions_have_run_when_push_returns(tmp_path: Path) -> None:
    engine = Engine([_pack(tmp_path, KTV_PACK)], REFERENCE, backend="durable")
    session = engine.session(lateness="0s")
    session.push(_card("x1"))
    # No sleep: the engine's background thread would need 0.2 s; ours are synchronous.
    found = session.advance_to("2026-03-10T21:00:01+08:00")
    assert sorted(f.rule_id for f in found) == ["R1", "R2"]


def test_facts_are_retracted_after_each_batch(tmp_path: Path) -> None:
    engine = Engine([_pack(tmp_path, KTV_PACK)], REFERENCE, backend="durable")
    matcher = DurableMatcher(engine.plan, engine.env)
    from fourin_rules.ingest import Ingestor

    ingest = Ingestor("Asia/Shanghai")
    events = [ingest.accept(_card(f"x{i}")) for i in range(50)]
    assert all(len(h) == 2 for h in matcher.match(events))
    for group in matcher.groups["card_txn"]:
        for name in group.rulesets:
            assert matcher.host.get_facts(name) == []


def test_string_compared_with_number_is_refused_before_the_engine() -> None:
    scope = Scope(fields={"mcc": "str", "amount_cny": "number"})
    with pytest.raises(FourinError) as info:
        compile_expr("mcc > 10", scope, expect="bool")
    assert info.value.code == "expr-type"


def test_only_same_typed_comparisons_are_pushed_into_durable() -> None:
    scope = Scope(fields={"mcc": "str", "amount_cny": "number", "note": "any"})
    tr = translate(
        compile_expr('mcc == "7911" and amount_cny > 10 and note == "x"', scope, expect="bool")
    )
    assert tr.fields == {"mcc": "str", "amount_cny": "number"}
    assert len(tr.leaves) == 1  # the untyped custom field is tested in Python


def test_null_semantics_match_the_reference_backend(tmp_path: Path) -> None:
    pack = KTV_PACK.replace('when: mcc == "7911"', 'when: reimbursed_claim_id != "R1"').replace(
        "when: amount_cny > 100", "when: not (amount_cny < 100)"
    )
    path = _pack(tmp_path, pack)
    events = [_card("x1"), {**_card("x2"), "reimbursed_claim_id": "R1", "amount_cny": 50}]
    by_backend = {}
    for backend in ("python", "durable"):
        result = Engine([path], REFERENCE, backend=backend).run(events)
        by_backend[backend] = sorted((f.rule_id, f.evidence[0].id) for f in result.findings)
    assert by_backend["durable"] == by_backend["python"] == [("R1", "x1"), ("R2", "x1")]


@pytest.mark.parametrize("backend", ["durable", "python"])
def test_a_rule_that_raises_is_reported_and_the_others_keep_running(
    tmp_path: Path, backend: str
) -> None:
    pack = KTV_PACK.replace(
        'when: mcc == "7911"', 'when: mcc == "7911" and unit(cadre_id).grassroots'
    )
    engine = Engine([_pack(tmp_path, pack)], REFERENCE, backend=backend)

    def broken_lookup(unit_id: str) -> dict:
        raise RuntimeError(f"reference store down while looking up {unit_id}")

    engine.env.unit = broken_lookup  # a failing lookup inside rule R1 only
    result = engine.run([_card("x1"), _card("x2")])
    assert [f.rule_id for f in result.findings] == ["R2", "R2"]
    assert {(e.rule_id, e.event_id) for e in result.errors} == {("R1", "x1"), ("R1", "x2")}
    assert "reference store down" in result.errors[0].message
    assert result.stats.valid == 2
