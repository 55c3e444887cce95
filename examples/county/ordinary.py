"""Ordinary life in the county: what the 60 dispatched cadres do on days nobody planted anything.

Every duty day (chinese_calendar.is_workday, as the engine's duty calendar) each cadre checks in
in the township in the morning and the afternoon (a group leader sometimes only visits in the
afternoon), the group makes six visits over its targets in turn, cadres pay at the township's
shops and eat in its canteen. Weekly: a data request from the group with three days' notice, a
one-hour meeting with township leaders, rides in county cars, an article every other week.
Some leave and trips, unfounded complaints, returned gifts, kept promises, township tasks the
cadres assist with, receptions and claims that break no rule.
"""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
from county import DEPTS, KINDS, SEAT
from world import FIRST, LAST, NONE_DAY, DayPlan, World, at, days, monday

TOPICS = [
    ("企业复工复产", ["企业名称", "复工人数", "产值", "用工缺口"]),
    ("项目建设进度", ["项目名称", "计划投资", "完成投资", "形象进度"]),
    ("低保救助", ["低保户数", "特困人数", "救助金额", "临时救助"]),
    ("安全生产排查", ["隐患数量", "整改数量", "责任人", "整改时限"]),
    ("春耕备耕", ["播种面积", "农资储备", "农机数量", "灌溉面积"]),
    ("人居环境整治", ["垃圾清运量", "改厕户数", "河塘清淤", "村庄绿化"]),
    ("矛盾纠纷排查", ["纠纷数量", "化解数量", "信访件数", "重点人员"]),
    ("招商引资", ["签约项目", "签约金额", "落地项目", "在谈项目"]),
]


def duty(d: date) -> bool:
    """A duty day exactly as the engine's calendar sees 2026: holidays and 调休 included."""
    return bool(chinese_calendar.is_workday(d))


def absences(w: World) -> None:
    """Approved leave and one-day trips with the matching absence; leave asked for but not
    granted, with the cadre at work after all. Kept off the days and weeks scenarios use."""
    rng, cids = w.rng, sorted(w.cadres)
    for d in days():
        if not duty(d) or d >= date(2026, 3, 30):  # the last two days feed B1's last windows
            continue
        for kind, p in (("leave", 0.6), ("half", 0.25), ("trip", 0.4), ("asked", 0.2)):
            cid = rng.choice(cids)
            if rng.random() >= p or not w.free(cid, d) or cid in w.escort:
                continue
            if kind == "leave":
                w.plan(cid, d, NONE_DAY)
                kind_ = rng.choice(["sick", "personal", "annual"])
                lv = w.leave(cid, at(d, 8, 30), at(d, 17, 30), "approved", kind_)
                w.miss("D1", cid, d, [lv], "a day of approved leave excuses the absence", 3)
            elif kind == "half":
                w.plan(cid, d, DayPlan(pm=False, visits="am", cards=False))
                lv = w.leave(cid, at(d, 13, 30), at(d, 17, 30), "approved")
                w.miss("D1", cid, d, [lv], "an approved afternoon leave covers the afternoon", 3)
            elif kind == "trip":
                w.plan(cid, d, NONE_DAY)
                dest, purpose = (
                    rng.choice(["阜阳市", "合肥市"]),
                    rng.choice(["业务培训", "专题会议"]),
                )
                ta = w.add(
                    "trip_approval",
                    at(d, 7, 30),
                    at(d, 18, 30),
                    cadre_ids=[cid],
                    destination=dest,
                    purpose=purpose,
                    approved_by=w.dept(cid),
                )
                fare = rng.choice([46, 60, 88, 120, 186])
                t = at(d, 19, rng.randint(0, 50))
                rb = w.claim(
                    cid,
                    t,
                    w.dept(cid),
                    "travel",
                    fare,
                    [("往返车费", fare)],
                    beneficiary_ids=[cid],
                    destination=dest,
                )
                w.miss("D1", cid, d, [ta], "an approved trip covers the day away", 3)
                w.miss("P4-trip", cid, d, [ta], "a trip to 阜阳市 or 合肥市, not the hometown", 3)
                w.miss("P4-claim", cid, d, [rb], "travel to 阜阳市 or 合肥市, not the hometown", 3)
            else:
                w.leave(cid, at(d, 8, 30), at(d, 17, 30), rng.choice(["pending", "rejected"]))


def where(w: World) -> str:
    r = w.rng.random()
    return "town" if r < 0.7 else "unit" if r < 0.85 else "face"


def group_visits(w: World, gid: str, d: date) -> set[str]:
    """The group's visits of the day: six slots (one per cadre, two for the leader) over its
    targets in turn; a slot whose cadre is away goes to another. Returns the cadres with an
    afternoon visit."""
    rng, wk, members = w.rng, monday(d), w.members(gid)
    kept = ("village",) if (gid, wk) in w.villages_only else KINDS
    slots = [(c, "am" if (k + d.toordinal()) % 2 == 0 else "pm") for k, c in enumerate(members)]
    slots.insert(1, (members[0], "pm" if slots[0][1] == "am" else "am"))
    slots += [
        (c, "pm") for c in members if d in w.visit_mods.get((c, wk), {}).get("extra_days", ())
    ]
    used: set[tuple[str, str]] = set()
    afternoon = set()

    def free(c: str, half: str) -> bool:
        p = w.plans.get((c, d), DayPlan())
        return p.visits in ("all", half) and (c, d) not in w.target_days and (c, half) not in used

    for c in members:  # a day of many short stops (A1-targets): consecutive targets in turn
        for k in range(w.target_days.get((c, d), 0)):
            start = at(d, 8, 40 + 35 * k) if k < 5 else at(d, 14, 30 + 35 * (k - 5))
            w.visit(c, w.next_target(gid), start, 30, photos=rng.randint(1, 3), escort=0)
            if k >= 5:
                afternoon.add(c)
    for cid, half in slots:
        target = w.next_target(gid)
        other = "pm" if half == "am" else "am"
        choices = [(cid, half), (cid, other)] + [(c, h) for c in members for h in (half, other)]
        who = next((ch for ch in choices if free(*ch)), None)
        if who is None or w.units[target]["kind"] not in kept:
            continue
        used.add(who)
        cid, half = who
        mods = w.visit_mods.get((cid, wk), {})
        if half == "am":
            start, minutes = at(d, 9, rng.randint(0, 75)), rng.randint(40, 100)
        else:
            start, minutes = at(d, 15, rng.randint(0, 40)), rng.randint(40, 90)
            afternoon.add(cid)
        if "dur" in mods:
            minutes = rng.randint(*mods["dur"])
        photos = (
            rng.randint(*mods["photos"]) if "photos" in mods else rng.choice([0, 1, 2, 2, 3, 4])
        )
        if mods.get("photo_first") and not mods.get("done"):
            photos, mods["done"] = mods["photo_first"], True
        escort = rng.randint(*w.escort[cid]) if cid in w.escort else rng.choice([0, 0, 1])
        w.visit(
            cid,
            target,
            start,
            minutes,
            photos=photos,
            escort=escort,
            issues=rng.choice([0, 0, 1, 2]),
        )
    return afternoon


def cadre_day(w: World, cid: str, d: date, afternoon: set[str]) -> None:
    """Check-ins, card payments and canteen meals of a cadre on a duty day."""
    rng, tid = w.rng, w.town_of(cid)
    p = w.plans.get((cid, d), DayPlan())
    if p.am:
        w.checkin(cid, at(d, 8, rng.randint(0, 50)), where(w))
    if p.pm and cid == w.members(w.group_of(cid))[0] and cid in afternoon and rng.random() < 0.2:
        w.miss("D1", cid, d, [], "no afternoon check-in, but an afternoon visit in the township", 3)
    elif p.pm:
        w.checkin(cid, at(d, 14, rng.randint(0, 50)), where(w))
    short = w.units[tid]["name"][:2]
    if p.cards and rng.random() < 0.35:
        point = w.around(w.centre(tid), 0.8) if rng.random() < 0.7 else None
        shop = short + rng.choice(["联华超市", "惠民超市", "百货商店"])
        w.card(
            cid, at(d, 12, rng.randint(5, 80)), round(rng.uniform(6, 58), 1), shop, "5411", point
        )
    if p.cards and rng.random() < 0.25:
        point = w.around(w.centre(tid), 0.8) if rng.random() < 0.6 else None
        inn = short + rng.choice(["农家饭庄", "羊肉汤馆", "家常菜馆"])
        w.card(cid, at(d, 18, rng.randint(0, 100)), rng.randint(28, 120), inn, "5812", point)
    if p.canteen and rng.random() < 0.6:
        paid = rng.choice([10, 12, 15])
        w.add(
            "canteen_meal",
            at(d, 11, rng.randint(50, 85)),
            cadre_id=cid,
            meal="lunch",
            paid_cny=paid,
        )
    if p.canteen and rng.random() < 0.15:
        w.add(
            "canteen_meal",
            at(d, 7, rng.randint(20, 50)),
            cadre_id=cid,
            meal="breakfast",
            paid_cny=3,
        )


def rest_day(w: World, cid: str, d: date) -> None:
    """Weekends and holidays at home in the county seat: some shopping near home."""
    rng = w.rng
    if rng.random() < 0.3:
        shop = rng.choice(["县城华联超市", "县城永辉超市", "县城苏果超市"])
        t, amount = at(d, 10, rng.randint(0, 420)), round(rng.uniform(20, 260), 1)
        ev = w.card(cid, t, amount, shop, "5411", w.around(w.home(cid), 0.3))
        w.miss("P4", cid, d, [ev], "at home on a rest day, not in work time", 3)


def weekly(w: World) -> None:
    """Per group and week: a data request, a meeting, car rides, an article every other week."""
    rng = w.rng
    for index, wk in enumerate(sorted({monday(d) for d in days()})):
        week = [wk + timedelta(days=i) for i in range(7)]
        duty_days = [d for d in week if FIRST <= d <= LAST and duty(d)]
        if not duty_days:
            continue
        for g, gid in enumerate(sorted(w.groups)):
            members, tid = w.members(gid), w.town_of(w.members(gid)[0])
            first = duty_days[0]
            topic, fields = TOPICS[(g + index) % len(TOPICS)]
            t = at(first, 9, rng.randint(0, 50))
            w.request(gid, [tid], t, topic, fields, at(first + timedelta(days=3), 17))
            md = next((d for d in duty_days if d.weekday() >= 2), duty_days[-1])
            leaders = w.leaders(tid)[: rng.randint(1, len(w.leaders(tid)))]
            present = [c for c in members if w.plans.get((c, md), DayPlan()).pm]
            topic = rng.choice(["工作调度", "情况通报", "问题会商", "学习交流"])
            w.meeting(gid, at(md, 15), 60, members[0], present + leaders, tid, topic)
            if (index + g) % 2 == 0 and wk != date(2026, 3, 30):
                pd = duty_days[min(3, len(duty_days) - 1)]
                ev = w.add(
                    "publicity",
                    at(pd, 16, 30),
                    group_id=gid,
                    cadre_id=rng.choice(members),
                    kind=rng.choice(["article", "photo_report"]),
                    cost_cny=0,
                )
                w.miss(
                    "A1-publicity", gid, wk, [ev], "one free article against a week of visits", 3
                )
            td = duty_days[min(1, len(duty_days) - 1)]
            rider = next((c for c in members[1:] if w.free(c, td)), None)
            if (index + g) % 2 == 1 and rider is not None:
                village = w.units[rng.choice(w.of_kind(tid, "village"))]["name"]
                ev = w.add(
                    "vehicle_trip",
                    at(td, 10),
                    at(td, 10, 40),
                    plate=f"皖K-T{tid[1:]}01",
                    passenger_ids=[rider, w.clerks(tid)[0]],
                    driver_id=f"DRV-{tid}",
                    km=rng.randint(4, 9),
                    purpose="陪同走访",
                    origin=w.units[tid]["name"],
                    destination=village,
                    requesting_unit_id=tid,
                )
                w.miss("P2", rider, td, [ev], "requested by the township, its staff aboard", 3)
            last = duty_days[-1]
            riders = [c for c in members if w.plans.get((c, last), DayPlan()).pm]
            if riders and last.weekday() == 4:
                dept = w.dept(members[0])
                plate = f"皖K-G{[d for d, _ in DEPTS].index(dept) + 1:04d}"
                end = w.around(SEAT, 1.5)
                ev = w.add(
                    "vehicle_trip",
                    at(last, 17, 40),
                    at(last, 18, 40),
                    plate=plate,
                    passenger_ids=riders,
                    driver_id=f"DRV-{dept}",
                    km=rng.randint(28, 60),
                    purpose="返城",
                    origin=w.units[tid]["name"],
                    destination="县城",
                    end_lat=end[0],
                    end_lon=end[1],
                )
                w.miss("P2", riders[0], last, [ev], "a county department's car", 3)


def once(w: World) -> None:
    """Ratings, unfounded complaints, returned gifts, kept promises, township tasks, receptions
    and claims that break no rule."""
    rng = w.rng
    duty_days = [d for d in days() if duty(d)]
    dims = ["conduct", "integration", "obedience", "effectiveness"]
    for k, cid in enumerate(sorted(w.cadres)):
        for d in (date(2026, 2, 27), date(2026, 3, 27)):
            tags = rng.sample(["punctual", "helpful", "grounded", "responsive"], 2)
            w.rating(at(d, 10, k), cid, dims[(k + d.month) % 4], rng.randint(3, 5), tags)
    rule_of = {
        "harm_to_public": "P5",
        "special_treatment": "P7-complaint",
        "drinking": "P10-complaint",
        "arrogance": "A2",
        "interference": "P1-complaints",
        "gifts": "P9-gift",
    }

    def bystander(rule: str | None) -> str:
        """A cadre with no finding of ``rule`` planted, so the near-miss is about them alone."""
        planted = {t.subject_id for t in w.truth if t.rule_id == rule}
        return rng.choice([c for c in sorted(w.cadres) if c not in planted])

    for k, cat in enumerate([*rule_of, "other", "harm_to_public", "arrogance", "interference"]):
        cid, d = bystander(rule_of.get(cat)), rng.choice(duty_days)
        ev = w.complaint(at(d, 10, rng.randint(0, 300)), [cid], f"P-2{k:03d}", cat, "unfounded")
        if cat in rule_of and cat != "gifts":
            w.miss(rule_of[cat], cid, None, [ev], f"a complaint ({cat}) found unfounded")
    for _ in range(6):
        cid, d = bystander("P9-gift"), rng.choice(duty_days)
        tid = w.town_of(cid)
        giver = rng.choice(w.of_kind(tid, "enterprise") + w.of_kind(tid, "village"))
        ev = w.add(
            "gift",
            at(d, 16, rng.randint(0, 60)),
            cadre_id=cid,
            giver_unit_id=giver,
            value_cny=rng.choice([100, 200, 300, 500]),
            returned=True,
            item=rng.choice(["茶叶", "土特产", "购物卡", "水果"]),
        )
        w.miss("P9-gift", cid, None, [ev], "the gift was returned", 3)
    for cid in sorted(w.cadres):
        if rng.random() < 0.5:
            continue
        d = rng.choice([x for x in duty_days if x <= date(2026, 3, 13)])
        target = rng.choice(w.groups[w.group_of(cid)]["targets"])["target_id"]
        issue = rng.choice(["道路硬化问题", "用工难题", "灌溉用水", "用电增容"])
        text = f"协调解决{w.units[target]['name']}{issue}"
        due, closed = at(d + timedelta(days=10), 17), at(d + timedelta(days=rng.randint(3, 8)), 16)
        common = {
            "cadre_id": cid,
            "target_id": target,
            "text": text,
            "due": due,
            "dept_confirmed": True,
        }
        w.add("commitment", at(d, 10), status="open", **common)
        w.add("commitment", closed, status="done", closed_at=closed, **common)
    tasks = [
        ("春季防火巡查", "other"),
        ("土地流转协调", "land"),
        ("产业扶持资金拨付", "funds"),
        ("厂房租赁合同", "contract"),
    ]
    for tid in w.towns:
        for topic, kind in rng.sample(tasks, 3):
            d, helper = rng.choice(duty_days), rng.choice(w.members("G" + tid[1:]))
            holders = [
                {"cadre_id": w.leaders(tid)[0], "role": "lead"},
                {"cadre_id": w.clerks(tid)[0], "role": "handle"},
                {"cadre_id": helper, "role": "assist"},
            ]
            ev = w.add(
                "township_task",
                at(d, 10, 30),
                township_id=tid,
                topic=topic,
                topic_kind=kind,
                role_holders=holders,
            )
            w.miss("D2", helper, d, [ev], "the dispatched cadre assists; the township leads", 3)
    tuesdays = [x for x in duty_days if x.weekday() == 1]
    thursdays = [x for x in duty_days if x.weekday() == 3]
    for k in range(8):
        letter = {"letter_id": f"阜督函〔2026〕{k + 11}号", "alcohol": False}
        w.reception(
            at(tuesdays[k], 12),
            DEPTS[k][0],
            [f"市督查组-{k + 1:02d}"],
            2,
            180,
            [("工作餐", 180)],
            **letter,
        )
        tid = w.towns[k]
        ev = w.reception(
            at(thursdays[k % len(thursdays)], 12),
            tid,
            [f"县委督查室-{k + 1:02d}"],
            2,
            90,
            [("工作餐", 90)],
            venue=w.units[tid]["name"] + "食堂",
            letter_id=f"县督函〔2026〕{k + 3}号",
        )
        w.miss("P6-reception", None, None, [ev], "the township's guests are not dispatched", 2)
    for _ in range(6):
        cid, d = rng.choice(sorted(w.cadres)), rng.choice(duty_days)
        amount = rng.choice([36, 48, 60, 72])
        w.claim(
            cid,
            at(d, 18, 30),
            w.dept(cid),
            "meals",
            amount,
            [("工作餐", amount)],
            beneficiary_ids=[cid],
            merchant_name="县委党校食堂",
            mcc="5812",
        )


def ordinary(w: World) -> None:
    """Write the ordinary two months (after the scenarios have reserved their days)."""
    absences(w)
    for d in days():
        if duty(d):
            afternoon: set[str] = set()
            for gid in sorted(w.groups):
                afternoon |= group_visits(w, gid, d)
            for cid in sorted(w.cadres):
                cadre_day(w, cid, d, afternoon)
        else:
            for cid in sorted(w.cadres):
                rest_day(w, cid, d)
    weekly(w)
    once(w)
