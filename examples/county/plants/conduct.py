"""Money, meals and complaints: P4-claim, P6*, P7*, P8, P9*, P10*, P1-complaints, P5*, A2."""

from __future__ import annotations

from datetime import date
from typing import Any

from world import DayPlan, Event, World, at

from plants.picks import day, first_visit


def money(w: World) -> None:
    """Claims paid by grassroots units, free canteen meals, lodging, entertainment, alcohol."""

    def grassroots(
        payer: str, who: list[str], d: date, hh: int, category: str, amount: float, **extra: Any
    ) -> Event:
        # the unit's own staff files the claim: a village secretary, or a township clerk
        claimant = w.clerks(payer)[0] if payer[0] == "T" else f"S{payer[1:]}V"
        items = extra.pop(
            "items", [({"meals": "饭菜", "lodging": "住宿费"}.get(category, "包车费"), amount)]
        )
        return w.claim(
            claimant, at(d, hh), payer, category, amount, items, beneficiary_ids=who, **extra
        )

    r = grassroots(
        "V0101", ["K03"], day(3, 10), 18, "meals", 180, items=[("饭菜", 150), ("香烟", 30)]
    )
    w.expect("P6", "K03", day(3, 10), [r], "a village paid the cadre's dinner, cigarettes included")
    r = grassroots("T03", ["K14"], day(2, 11), 10, "transport", 120)
    w.expect("P6", "K14", day(2, 11), [r], "the township paid the cadre's car hire")
    r1 = grassroots("T05", ["K23"], day(3, 3), 18, "meals", 300)
    r2 = grassroots("T05", ["K23"], day(3, 20), 19, "lodging", 250, nights=1)
    w.expect("P6", "K23", day(3, 3), [r1], "the township paid the cadre's meals")
    w.expect("P6", "K23", day(3, 20), [r2], "the township paid the cadre's lodging")
    w.expect("P6-monthly", "K23", day(3, 1), [r1, r2], "550 CNY of living costs in March")
    r = grassroots("T07", ["K32"], day(2, 5), 20, "lodging", 600, nights=2)
    w.expect("P6", "K32", day(2, 5), [r], "the township paid two nights' lodging")
    w.expect("P6-monthly", "K32", day(2, 1), [r], "600 CNY of living costs in February")
    r = grassroots("T09", ["K41", "K42"], day(3, 12), 18, "meals", 800)
    w.expect("P6", "K41", day(3, 12), [r], "the township paid a shared dinner")
    w.expect("P6", "K42", day(3, 12), [r], "the township paid a shared dinner")
    w.miss("P6-monthly", "K41", day(3, 1), [r], "800 CNY for two is 400 a head, not above 500")
    r = grassroots(
        "T02", ["K07"], day(3, 5), 19, "lodging", 300, nights=1, settlement_doc="JS-2026-017"
    )
    w.miss("P6", "K07", day(3, 5), [r], "the cadre settled the bill (settlement document)")

    for cid, dates, note in (
        ("K09", [day(2, d) for d in (3, 4, 5, 6)], "4 free canteen lunches in February"),
        ("K28", [day(3, d) for d in (2, 3, 4, 5, 6)], "5 free canteen lunches in March"),
        ("K37", [day(3, d) for d in (9, 10, 11)], ""),
    ):
        meals = []
        for d in dates:
            w.plan(cid, d, DayPlan(canteen=False))
            meals.append(
                w.add("canteen_meal", at(d, 11, 55), cadre_id=cid, meal="lunch", paid_cny=0)
            )
        if note:
            w.expect("P6-canteen", cid, dates[0].replace(day=1), meals, note)
        else:
            w.miss(
                "P6-canteen", cid, day(3, 1), meals, "3 free meals in a month: the limit, not above"
            )

    def own(
        cid: str,
        d: date,
        hh: int,
        mm: int,
        category: str,
        amount: float,
        items: list[tuple[str, float]] | None = None,
        **extra: Any,
    ) -> Event:
        return w.claim(
            cid,
            at(d, hh, mm),
            w.dept(cid),
            category,
            amount,
            items,
            beneficiary_ids=extra.pop("beneficiary_ids", [cid]),
            **extra,
        )

    r = own("K25", day(3, 13), 10, 0, "lodging", 800, nights=2, destination="合肥市")
    w.expect("P7", "K25", day(3, 13), [r], "400 a night against a cap of 350")
    r = own("K50", day(2, 27), 10, 0, "lodging", 1800, nights=3, destination="合肥市")
    w.expect("P7", "K50", day(2, 27), [r], "600 a night, far above the cap")
    r = own("K33", day(3, 20), 10, 0, "lodging", 700, nights=2, destination="合肥市")
    w.miss("P7", "K33", day(3, 20), [r], "350 a night is exactly the cap")
    r = own("K46", day(3, 13), 10, 0, "other", 420, merchant_name="水云间洗浴中心", mcc="7298")
    w.expect("P8", "K46", day(3, 13), [r], "a bathhouse bill claimed")
    r = own("K07", day(3, 6), 12, 30, "meals", 150, [("午餐", 110), ("啤酒", 40)], mcc="5812")
    w.expect("P10-claim", "K07", day(3, 6), [r], "beer on a working-day lunch claim")
    r = own(
        "K16",
        day(3, 18),
        11,
        40,
        "meals",
        300,
        [("午餐", 120), ("红酒", 180)],
        beneficiary_ids=["K16", "K20"],
        mcc="5812",
    )
    w.expect("P10-claim", "K16", day(3, 18), [r], "red wine on a working-day lunch claim")
    w.expect("P10-claim", "K20", day(3, 18), [r], "red wine on the lunch claim of a fellow diner")
    r = own("K06", day(3, 9), 12, 20, "meals", 60, [("午餐", 60)])
    w.miss("P10-claim", "K06", day(3, 9), [r], "a lunch without alcohol")
    r = own("K06", day(3, 10), 19, 30, "meals", 150, [("晚餐", 110), ("啤酒", 40)])
    w.miss("P10-claim", "K06", day(3, 10), [r], "beer at dinner is not work time")
    r = own("K12", day(3, 16), 10, 0, "travel", 260, destination="阜南县")
    w.expect("P4-claim", "K12", day(3, 16), [r], "travel claimed to the cadre's hometown 阜南县")
    r = own("K57", day(2, 27), 15, 0, "transport", 80, destination="太和县")
    w.expect("P4-claim", "K57", day(2, 27), [r], "transport claimed to the cadre's hometown 太和县")

    x = w.card(
        "K31", at(day(3, 7), 21, 30), 860, "金色年华KTV", "7911", reimbursed_claim_id="RB-0307"
    )
    w.expect("P8", "K31", day(3, 7), [x], "a KTV bill on the official card, claimed")
    x = w.card(
        "K31", at(day(3, 11), 18, 30), 300, "颍州大酒店", "5812", reimbursed_claim_id="RB-0311"
    )
    w.miss("P8", "K31", day(3, 11), [x], "a hotel restaurant is not entertainment")
    x = w.card("K56", at(day(3, 17), 10), 300, "名酒行", "5921")
    w.expect("P10-card", "K56", day(3, 17), [x], "a liquor store in work hours")
    x = w.card("K56", at(day(3, 19), 19), 260, "名酒行", "5921")
    w.miss("P10-card", "K56", day(3, 19), [x], "a liquor store after work")
    x = w.card("K22", at(day(3, 5), 15), 120, "老城酒吧", "5813")
    w.expect("P10-card", "K22", day(3, 5), [x], "a bar in work hours")
    w.expect("P8", "K22", day(3, 5), [x], "a bar (MCC 5813) is entertainment too")


def hospitality(w: World) -> None:
    """Receptions by grassroots units and county departments, and kept gifts."""
    d = day(3, 19)
    rc = w.reception(
        at(d, 12),
        "E0601",
        ["K26", "K30"],
        3,
        1200,
        [("菜品", 900), ("白酒", 300)],
        alcohol=True,
        venue="企业食堂",
    )
    for cid in ("K26", "K30"):
        w.expect("P6-reception", cid, d, [rc], "an enterprise's lunch with baijiu")
        w.expect("P9", cid, d, [rc], "treated by an enterprise")
        w.expect("P10", cid, d, [rc], "baijiu at a working-day lunch")
    rc = w.reception(
        at(day(3, 6), 18, 30),
        "C0101",
        ["K04"],
        2,
        150,
        [("工作餐", 150)],
        letter_id="县函〔2026〕5号",
        venue="社区食堂",
    )
    w.expect("P6-reception", "K04", day(3, 6), [rc], "a community's dinner for the cadre")
    rc = w.reception(
        at(day(3, 20), 12),
        "PJ0401",
        ["K19"],
        1,
        60,
        [("工作餐", 60)],
        letter_id="县函〔2026〕9号",
        venue="项目部食堂",
    )
    w.expect("P6-reception", "K19", day(3, 20), [rc], "a project's lunch, no alcohol")
    rc = w.reception(at(day(3, 3), 18, 30), "D-FIN", ["K34"], 1, 80, [("工作餐", 80)])
    w.expect("P9", "K34", day(3, 3), [rc], "a county reception without an official letter")
    rc = w.reception(
        at(day(3, 11), 18, 30),
        "D-AGR",
        ["K59", "市农业农村局-王"],
        5,
        900,
        [("菜品", 900)],
        letter_id="市农函〔2026〕12号",
        venue="宾馆",
    )
    w.expect("P9", "K59", day(3, 11), [rc], "five companions for two guests")
    items = [("工作餐", 200), ("啤酒", 60)]
    rc = w.reception(
        at(day(3, 25), 12, 10),
        "D-WAT",
        ["K45"],
        2,
        260,
        items,
        letter_id="县水函〔2026〕4号",
        alcohol=True,
    )
    w.expect("P10", "K45", day(3, 25), [rc], "beer at a working-day lunch")
    for d, hh, host, cid, items, extra, reason in (
        (
            day(3, 9),
            12,
            "D-EDU",
            "K01",
            [("工作餐", 200), ("白酒", 100)],
            {"alcohol": True, "approval_doc": "外事〔2026〕2号"},
            "an approved reception",
        ),
        (
            day(3, 14),
            12,
            "D-TRA",
            "K11",
            [("工作餐", 200)],
            {"alcohol": True},
            "Saturday 2026-03-14 is not a duty day",
        ),
        (
            day(3, 10),
            12,
            "D-FIN",
            "K21",
            [("酒店套餐", 200)],
            {},
            "a hotel set menu is not alcohol",
        ),
        (
            day(3, 10),
            18,
            "D-HEA",
            "K46",
            [("工作餐", 200)],
            {"alcohol": True},
            "a dinner is not work time",
        ),
        (day(3, 16), 12, "D-CIV", "K51", [("工作餐", 90)], {}, "a lunch without alcohol"),
    ):
        rc = w.reception(
            at(d, hh, 10), host, [cid], 2, 300, items, letter_id=f"县函〔2026〕{d.day}号", **extra
        )
        w.miss("P10", cid, d, [rc], reason)
        w.miss("P9", cid, d, [rc], "a county reception with a letter and two companions")
    g = w.add(
        "gift",
        at(day(3, 10), 16),
        cadre_id="K15",
        giver_unit_id="E0301",
        value_cny=500,
        item="茶叶",
        returned=False,
    )
    w.expect("P9-gift", "K15", day(3, 10), [g], "kept an enterprise's tea")
    g = w.add(
        "gift",
        at(day(2, 16), 10),
        cadre_id="K20",
        giver_unit_id="V0401",
        value_cny=200,
        item="土特产",
        returned=False,
    )
    w.expect("P9-gift", "K20", day(2, 16), [g], "kept a village's gift at the Spring Festival")


def complaints(w: World) -> None:
    """Complaints and ratings: interference, harm, special treatment, drinking, aloofness."""

    def two(
        cid: str, d1: date, d2: date, by: tuple[str, str], category: str, verified: str
    ) -> list[Event]:
        return [
            w.complaint(at(d, 10), [cid], p, category, verified)
            for d, p in zip((d1, d2), by, strict=True)
        ]

    for cid, d1, d2 in (("K38", day(2, 10), day(3, 2)), ("K03", day(3, 5), day(3, 20))):
        c = two(cid, d1, d2, ("P-1101", "P-1102"), "interference", "substantiated")
        w.expect(
            "P1-complaints", cid, d1, c, "two substantiated interference complaints in 30 days"
        )
    c = two("K09", day(2, 3), day(3, 16), ("P-1103", "P-1104"), "interference", "substantiated")
    w.miss("P1-complaints", "K09", None, c, "41 days apart")
    c1 = w.complaint(at(day(3, 2), 10), ["K10", "K15"], "P-1201", "harm_to_public", "substantiated")
    c2 = w.complaint(at(day(3, 20), 10), ["K35"], "P-1202", "harm_to_public", "substantiated")
    w.expect("P5", "K10", day(3, 2), [c1], "harm to the public, substantiated")
    w.expect("P5", "K15", day(3, 2), [c1], "harm to the public, substantiated (named too)")
    w.expect("P5", "K35", day(3, 20), [c2], "harm to the public, substantiated")
    for cid, d1, d2 in (("K05", day(2, 5), day(3, 10)), ("K60", day(3, 2), day(3, 3))):
        c = two(cid, d1, d2, (f"P-13{cid[1:]}", f"P-14{cid[1:]}"), "harm_to_public", "unverified")
        w.expect("P5-unverified", cid, d1, c, "two people report harm within 60 days")
        w.miss("P5", cid, None, c, "unverified complaints are not substantiated ones")
    c = two("K48", day(3, 4), day(3, 12), ("P-1501", "P-1501"), "harm_to_public", "unverified")
    w.miss("P5-unverified", "K48", None, c, "the same person twice is one voice")
    c = w.complaint(at(day(3, 16), 10), ["K51"], "S0202", "special_treatment", "substantiated")
    w.expect("P7-complaint", "K51", day(3, 16), [c], "demanded special treatment, substantiated")
    c = w.complaint(at(day(3, 4), 10), ["K55"], "S1103", "special_treatment", "unverified")
    w.expect("P7-complaint", "K55", day(3, 4), [c], "reported for special-treatment demands")
    c = w.complaint(at(day(3, 9), 10), ["K48"], "P-1601", "drinking", "substantiated")
    w.expect("P10-complaint", "K48", day(3, 9), [c], "drinking at work, substantiated")
    c = w.complaint(at(day(2, 26), 10), ["K40"], "P-1602", "drinking", "substantiated")
    w.expect("P10-complaint", "K40", day(2, 26), [c], "drinking at work, substantiated")
    c = w.complaint(at(day(3, 16), 10), ["K40"], "P-1603", "drinking", "unverified")
    w.miss("P10-complaint", "K40", day(3, 16), [c], "not yet verified")

    r = w.rating(at(day(3, 20), 9, 30), "K06", "conduct", 4, ["special_treatment"])
    w.expect("P7-rating", "K06", day(3, 20), [r], "tagged as demanding special treatment")
    r = w.rating(at(day(3, 10), 9, 30), "K12", "integration", 3, ["punctual", "special_treatment"])
    w.expect("P7-rating", "K12", day(3, 10), [r], "tagged so among other tags")
    r = w.rating(at(day(3, 18), 9, 30), "K13", "conduct", 4, ["punctual"])
    w.miss("P7-rating", "K13", day(3, 18), [r], "no special-treatment tag")

    w.complaint(at(day(2, 26), 10), ["K14"], "S0303", "arrogance", "substantiated")
    w.rating(at(day(3, 12), 9, 30), "K14", "conduct", 2, ["aloof"])
    w.expect(
        "A2", "K14", first_visit("K14"), None, "an arrogance complaint and a low conduct rating"
    )
    w.escort["K55"] = (2, 3)
    w.rating(at(day(3, 5), 9, 30), "K55", "integration", 2, ["aloof"])
    w.expect(
        "A2",
        "K55",
        first_visit("K55"),
        None,
        "escorted on every visit, and a low integration rating",
    )
    r = w.rating(at(day(3, 10), 9, 30), "K30", "effectiveness", 1, [])
    w.miss("A2", "K30", None, [r], "a low effectiveness rating is no sign of aloofness, and alone")
    w.escort["K45"] = (2, 3)
    w.miss("A2", "K45", None, [], "escorted on visits, but no other signal")
