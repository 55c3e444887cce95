"""How the groups work: D2, D2-meeting, P1, A1*, A3*, B1."""

from __future__ import annotations

from datetime import datetime

from world import DayPlan, Event, World, at

from plants.picks import day, meetings_of, requests_to, visits_in_week, visits_on

EXTRA_TOPICS = {  # fields no ordinary request asks for
    "教育资助": ["在校学生数", "资助人数", "资助金额", "辍学人数"],
    "农机补贴": ["购机户数", "补贴机具", "补贴资金", "作业面积"],
    "学生资助": ["寄宿生人数", "营养餐人数", "助学贷款", "困难学生"],
    "用工需求": ["缺工岗位", "招聘人数", "培训人数", "月均工资"],
    "防汛准备": ["险工险段", "抢险队伍", "物资储备", "转移预案"],
    "疫苗接种": ["应种人数", "已种人数", "接种率", "未种原因"],
    "医保参保": ["参保人数", "缴费金额", "未参保户", "代缴人数"],
}


def work(w: World) -> None:
    """Taking over township matters, and meetings that keep township leaders busy."""
    d = day(3, 10)
    holders = [{"cadre_id": "K17", "role": "lead"}, {"cadre_id": "S0401", "role": "approve"}]
    t = w.add(
        "township_task",
        at(d, 10),
        township_id="T04",
        topic="土地流转",
        topic_kind="land",
        role_holders=holders,
    )
    w.expect("D2", "K17", d, [t], "led a land matter without a delegation document")
    d = day(3, 17)
    t = w.add(
        "township_task",
        at(d, 14, 30),
        township_id="T09",
        topic="环境整治",
        topic_kind="other",
        role_holders=[{"cadre_id": "K44", "role": "sign"}],
    )
    w.expect("D2", "K44", d, [t], "signed for a township matter")
    d = day(3, 12)
    t = w.add(
        "township_task",
        at(d, 10),
        township_id="T01",
        topic="资金拨付",
        topic_kind="funds",
        role_holders=[{"cadre_id": "K01", "role": "lead"}],
        delegation_doc="王店镇〔2026〕3号",
    )
    w.miss("D2", "K01", d, [t], "a written delegation makes it the township's decision")
    for d, tid, cid, hh in ((day(3, 12), "T03", "K13", 15), (day(2, 26), "T11", "K52", 9)):
        m = w.meeting(
            tid, at(d, hh), 90, cid, [*w.leaders(tid), cid], tid, "项目选址", decision=True
        )
        w.expect("D2-meeting", cid, d, [m], "chaired the township's decision meeting")
    m = w.meeting("T05", at(day(3, 13), 15), 60, "S0501", ["K22", "S0502"], "T05", "资金分配", True)
    w.miss(
        "D2-meeting", None, day(3, 13), [m], "the township leader chairs its own decision meeting"
    )

    head = w.leaders("T05")[0]
    for start in (at(day(3, 23), 14, 30), at(day(3, 26), 9)):
        w.meeting("G05", start, 120, "K21", ["K21", "K22", head], "T05", "项目调度")
    w.expect("P1", "G05", day(3, 23), meetings_of("G05", day(3, 23)), "two extra two-hour meetings")
    head = w.leaders("T10")[0]
    ms = [
        w.meeting("K48", at(d, 9), 150, "K48", ["K48", head], "T10", "汇报")
        for d in (day(3, 10), day(3, 12))
    ]
    w.expect("P1", "K48", day(3, 9), ms, "a cadre's own meetings took the township head 5 hours")


def avoidances(w: World) -> None:
    """Visits for show, paid banners, blind promises, too many or rushed data requests."""
    for cid, wk, mods, note in (
        (
            "K41",
            day(3, 16),
            {"dur": (10, 16), "extra_days": [day(3, 17), day(3, 19)]},
            "10-16 minute visits",
        ),
        ("K11", day(2, 9), {"dur": (8, 15)}, "a week of 8-15 minute visits"),
        ("K27", day(3, 9), {"photos": (12, 16)}, "12-16 photos a visit all week"),
        ("K32", day(2, 23), {"photos": (11, 15)}, "11-15 photos a visit all week"),
    ):
        w.busy_weeks.add((cid, wk))
        w.visit_mods[(cid, wk)] = mods
        w.expect(
            "A1-short" if "dur" in mods else "A1-photos", cid, wk, visits_in_week(cid, wk), note
        )
    wk = day(3, 2)
    w.busy_weeks.add(("K16", wk))
    w.visit_mods[("K16", wk)] = {"dur": (20, 20), "extra_days": [day(3, 3)]}
    w.miss(
        "A1-short",
        "K16",
        wk,
        visits_in_week("K16", wk),
        "visits of exactly 20 minutes: not under 20",
    )
    wk = day(3, 16)
    w.busy_weeks.add(("K07", wk))
    w.visit_mods[("K07", wk)] = {"photo_first": 20}
    w.miss(
        "A1-photos",
        "K07",
        wk,
        visits_in_week("K07", wk),
        "one visit with 20 photos among quiet ones",
    )
    for cid, d, n in (("K35", day(3, 5), 7), ("K54", day(3, 26), 8), ("K57", day(3, 12), 6)):
        w.plan(cid, d, DayPlan(visits="none"))
        w.target_days[(cid, d)] = n
        if n > 6:
            w.expect("A1-targets", cid, d, visits_on(cid, d), f"{n} different targets in one day")
        else:
            w.miss(
                "A1-targets", cid, d, visits_on(cid, d), "6 targets in a day is the most allowed"
            )

    for gid, d, kind in (("G02", day(2, 17), "photo_report"), ("G10", day(2, 20), "article")):
        p = w.add(
            "publicity", at(d, 10), group_id=gid, cadre_id=w.members(gid)[0], kind=kind, cost_cny=0
        )
        w.expect(
            "A1-publicity", gid, day(2, 16), [p], "publicity in the Spring Festival week, no visit"
        )
    for gid, d, cid, kind, cost in (
        ("G02", day(3, 4), "K06", "banner", 120),
        ("G08", day(3, 18), "K36", "video", 2000),
        ("G03", day(3, 5), "K11", "banner", 0),
    ):
        p = w.add("publicity", at(d, 11), group_id=gid, cadre_id=cid, kind=kind, cost_cny=cost)
        if cost:
            w.expect("A1-banner", gid, d, [p], f"a paid {kind}")
        else:
            w.miss("A1-banner", gid, d, [p], "a banner that cost nothing")

    c = w.add(
        "commitment",
        at(day(2, 10), 10),
        cadre_id="K19",
        target_id="V0401",
        text="年前修通排水沟",
        due=at(day(3, 6), 17),
        status="open",
        dept_confirmed=False,
    )
    w.expect("A3-promise", "K19", day(2, 10), [c], "an unconfirmed promise never kept")
    common = {
        "cadre_id": "K37",
        "target_id": "E0801",
        "text": "协调用电增容",
        "due": at(day(3, 20), 0),
    }
    c = w.add("commitment", at(day(3, 2), 10), status="open", dept_confirmed=False, **common)
    w.add(
        "commitment",
        at(day(3, 24), 10),
        status="done",
        dept_confirmed=False,
        closed_at=at(day(3, 24), 10),
        **common,
    )
    w.expect("A3-promise", "K37", day(3, 2), [c], "an unconfirmed promise kept after its due date")
    common = {
        "cadre_id": "K47",
        "target_id": "C1001",
        "text": "加装路灯",
        "due": at(day(3, 17), 17),
    }
    c1 = w.add("commitment", at(day(3, 3), 10), status="open", dept_confirmed=False, **common)
    c2 = w.add(
        "commitment",
        at(day(3, 13), 10),
        status="done",
        dept_confirmed=False,
        closed_at=at(day(3, 13), 10),
        **common,
    )
    w.miss("A3-promise", "K47", None, [c1, c2], "kept before its due date")
    c = w.add(
        "commitment",
        at(day(3, 4), 10),
        cadre_id="K02",
        target_id="V0101",
        text="争取农机补贴",
        due=at(day(3, 14), 17),
        status="open",
        dept_confirmed=True,
    )
    w.miss("A3-promise", "K02", None, [c], "confirmed by the department: not a blind promise")
    c = w.add(
        "commitment",
        at(day(3, 20), 10),
        cadre_id="K60",
        target_id="PJ1201",
        text="协调项目用地",
        due=at(day(4, 20), 17),
        status="open",
        dept_confirmed=False,
    )
    w.miss("A3-promise", "K60", None, [c], "due after the end of the data")

    def ask(issuer: str, towns: list[str], t: datetime, topic: str, due: datetime) -> Event:
        return w.request(issuer, towns, t, topic, EXTRA_TOPICS[topic], due)

    ask("K13", ["T03"], at(day(3, 11), 10), "教育资助", at(day(3, 16), 17))
    ask("D-AGR", ["T03"], at(day(3, 12), 10), "农机补贴", at(day(3, 17), 17))
    w.expect(
        "A3-issuers", "T03", day(3, 9), requests_to("T03", day(3, 9)), "group, cadre, department"
    )
    ask("D-EDU", ["T08", "T09"], at(day(2, 25), 9), "学生资助", at(day(3, 2), 17))
    ask("K38", ["T08"], at(day(2, 26), 10), "用工需求", at(day(3, 3), 17))
    w.expect(
        "A3-issuers", "T08", day(2, 23), requests_to("T08", day(2, 23)), "group, department, cadre"
    )
    w.miss(
        "A3-issuers", "T09", day(2, 23), requests_to("T09", day(2, 23)), "two issuers, not three"
    )
    first = ask("D-WAT", ["T11", "T12"], at(day(3, 17), 10), "防汛准备", at(day(3, 20), 17))
    again = ask("G11", ["T11"], at(day(3, 24), 10, 30), "防汛准备", at(day(3, 27), 17))
    w.expect(
        "A3-duplicate",
        "T11",
        day(3, 17),
        [first, again],
        "the same flood-season fields a week later",
    )
    r = ask("G06", ["T06"], at(day(3, 11), 9), "疫苗接种", at(day(3, 11), 17))
    w.expect("A3-rush", "T06", day(3, 11), [r], "wanted the same day")
    r = ask("D-HEA", ["T01", "T02"], at(day(3, 18), 15), "医保参保", at(day(3, 19), 11))
    w.expect("A3-rush", "T01", day(3, 18), [r], "wanted in 20 hours")
    w.expect("A3-rush", "T02", day(3, 18), [r], "wanted in 20 hours")
    r = w.request(
        "G07", ["T07"], at(day(3, 19), 9), "用工需求", ["岗位名称", "需求人数"], at(day(3, 20), 9)
    )
    w.miss("A3-rush", "T07", day(3, 19), [r], "exactly 24 hours is enough")


def balance(w: World) -> None:
    """B1: two groups that only visit villages for a fortnight."""
    for gid, weeks in (("G04", (day(3, 9), day(3, 16))), ("G09", (day(2, 23), day(3, 2)))):
        for wk in weeks:
            w.villages_only.add((gid, wk))
    w.expect("B1", "G04", day(3, 9), None, "only villages visited from 03-09 to 03-22")
    w.expect(
        "B1", "G09", day(2, 16), None, "only villages visited in the window's one working week"
    )
    w.expect("B1", "G09", day(2, 23), None, "only villages visited from 02-23 to 03-08")
    for gid, wk in (
        ("G04", day(3, 2)),
        ("G04", day(3, 16)),
        ("G09", day(3, 2)),
        ("G09", day(2, 9)),
    ):
        w.miss(
            "B1",
            gid,
            wk,
            [],
            "one ordinary week in the fortnight keeps every kind above half its share",
        )


def after_ordinary(w: World) -> None:
    """Scenarios on top of ordinary events: repeated data requests, a week of exactly 4 hours."""
    weekly = {
        (e["issuer_id"], e["time"].date()): e
        for e in w.events
        if e["type"] == "data_request" and e["issuer_id"][0] == "G"
    }
    base = weekly[("G05", day(3, 2))]
    again = w.request(
        "K22",
        ["T05"],
        at(day(3, 5), 10),
        base["topic"],
        [*base["fields"], "联系人"],
        at(day(3, 9), 17),
    )
    w.expect(
        "A3-duplicate", "T05", day(3, 2), [base, again], "4 of 5 fields asked again 3 days later"
    )
    w.miss("A3-issuers", "T05", day(3, 2), requests_to("T05", day(3, 2)), "two issuers, not three")
    base = weekly[("G07", day(3, 9))]
    fields = [*base["fields"][:3], "填报人"]
    near = w.request("K33", ["T07"], at(day(3, 12), 10), base["topic"], fields, at(day(3, 16), 17))
    w.miss("A3-duplicate", "T07", day(3, 9), [base, near], "3 of 5 fields alike: Jaccard 0.6")
    base = weekly[("G10", day(2, 24))]
    near = w.request(
        "K46", ["T10"], at(day(3, 17), 9, 30), base["topic"], base["fields"], at(day(3, 20), 17)
    )
    w.miss(
        "A3-duplicate",
        "T10",
        day(2, 24),
        [base, near],
        "the same fields 21 days later: a new round",
    )

    wk = day(3, 16)
    ordinary = meetings_of("G06", wk)(w.events)
    assert len(ordinary) == 1
    leaders = w.leaders("T06")
    held = len(set(ordinary[0]["attendee_ids"]) & set(leaders))
    minutes = 60 if held == 2 else 90  # the week comes to exactly 4 leader-hours
    w.meeting("G06", at(day(3, 19), 9), minutes, "K26", ["K26", *leaders], "T06", "问题会商")
    w.miss("P1", "G06", wk, meetings_of("G06", wk), "exactly 4 leader-hours in the week, not more")
