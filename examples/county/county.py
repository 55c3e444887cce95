"""The reference data of examples/county: where its townships, villages, communities,
enterprises and projects lie, who works there, who is dispatched to them, and their vehicles.

The county is about 60 km across (lat 33.1-33.5, lon 115.7-116.0), its townships on a grid
13-14 km apart; the county seat, where every dispatched cadre lives, is in its south-west
corner, 18 km or more from any township, so that a cadre at home is not in the township.
"""

from __future__ import annotations

import math
import random
from typing import Any


def _words(text: str) -> list[str]:
    return text.split()


SEAT = (33.03, 115.57)  # the county seat, where the dispatched cadres live
KINDS = ("village", "community", "enterprise", "project")
HOMETOWNS = _words("临泉县 太和县 阜南县 颍上县 界首市 利辛县")  # never an ordinary trip's goal
DEPTS = [
    ("D-FIN", "县财政局"),
    ("D-AGR", "县农业农村局"),
    ("D-EDU", "县教育局"),
    ("D-HEA", "县卫生健康委"),
    ("D-TRA", "县交通运输局"),
    ("D-WAT", "县水利局"),
    ("D-NRE", "县自然资源和规划局"),
    ("D-COM", "县商务局"),
    ("D-CIV", "县民政局"),
    ("D-HRS", "县人力资源和社会保障局"),
]
TOWNS = _words(
    "王店镇 插花镇 袁集镇 三塔集镇 程集镇 口孜镇 新乌江镇 张集镇 刘集乡 马寨乡 宁老庄镇 杨桥镇"
)
# (villages, communities, enterprises, projects) of the townships that planted scenarios need
# large: T07 and T11 have days with 7 and 8 distinct visit targets, T12 one with 6.
SIZES = {"T07": (4, 2, 3, 2), "T11": (4, 2, 3, 2), "T12": (3, 1, 2, 1), "T06": (3, 1, 2, 1)}
TWO_LEADERS = ("T05", "T06")  # P1's scenarios count their leader-hours
VILLAGE_WORDS = _words(
    "东湖 西岗 前楼 后营 李庄 大王 小张 新华 联合 胜利 红星 高庙 双桥 柳林 魏寨 黄岗 杨湖 陈桥 "
    "孙集 何庄 刘楼 赵店 周寨 吴营 郑庄 邵湖 姚楼 葛庄 秦岗 丁集 蒋楼 苏庄 田湖 汪寨 韩楼 曹庄 "
    "许桥 冯营 邓庄 彭湖 潘楼 董岗 袁庄 于寨 石桥 马岗 龙王 沙河"
)
COMMUNITY_WORDS = _words(
    "人民路 老街 新城 镇南 镇北 幸福 和平 文昌 淮河 兴业 建设 光明 "
    "朝阳 育才 东关 西关 南关 北关 中心 花园 康居 锦绣 振兴 富民"
)
FIRM_HEADS = _words(
    "皖北 润丰 华鑫 金穗 绿源 宏达 颍淮 天成 鑫源 丰收 恒通 康宁 瑞丰 盛世 利民 汇川"
)
FIRM_TAILS = _words(
    "食品有限公司 农业科技有限公司 纺织有限公司 面业有限公司 建材有限公司 "
    "服装有限公司 电子有限公司 木业有限公司 粮油有限公司 机械有限公司"
)
PROJECTS = _words(
    "高标准农田建设项目 污水处理厂建设项目 乡村振兴示范片项目 农村道路提质改造项目 "
    "光伏电站项目 冷链物流中心项目 标准化厂房项目 饮水安全巩固提升项目"
)
SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董程曹袁邓许傅沈曾彭吕")
GIVEN = _words(
    "伟 芳 娜 敏 静 磊 强 军 洋 勇 艳 杰 涛 明 超 秀英 建国 志强 海燕 红梅 文博 晓东 立新 春华 "
    "国庆 玉兰 家豪 子涵 思远 宏伟 建华 晓燕 丽娟 振宇 德明 永强 雪梅 俊杰 凤英 庆华"
)
RANKS = _words("科员 副主任科员 主任科员 副科 正科")

Point = tuple[float, float]
Row = dict[str, Any]


def offset(p: Point, km: float, angle: float) -> Point:
    """The point ``km`` from ``p`` in direction ``angle`` (radians from north)."""
    lat = p[0] + km * math.cos(angle) / 111.19
    lon = p[1] + km * math.sin(angle) / (111.19 * math.cos(math.radians(p[0])))
    return round(lat, 5), round(lon, 5)


def _unit(uid: str, name: str, kind: str, tid: str, p: Point, radius_m: int) -> Row:
    return {
        "unit_id": uid,
        "name": name,
        "kind": kind,
        "grassroots": True,
        "township_id": tid,
        "lat": round(p[0], 4),
        "lon": round(p[1], 4),
        "radius_m": radius_m,
    }


def _township(
    rng: random.Random, i: int, names: Any, pools: dict[str, Any]
) -> dict[str, list[Row]]:
    """Township ``i`` with its grassroots units (1.4-2.3 km around it), staff and vehicles."""
    tid, town = f"T{i + 1:02d}", TOWNS[i]
    row, col = divmod(i, 3)
    lat = 33.13 + 0.11 * row + rng.uniform(-0.01, 0.01)
    centre = (round(lat, 4), round(115.72 + 0.15 * col + rng.uniform(-0.01, 0.01), 4))
    units = [_unit(tid, town, "township", tid, centre, 3000)]
    vehicles = [{"plate": f"皖K-T{i + 1:02d}01", "owner_unit_id": tid}]
    sizes = SIZES.get(tid) or tuple(
        rng.randint(1, n) + (k == 0) for k, n in enumerate((3, 2, 3, 2))
    )
    angle, short = rng.uniform(0, 2 * math.pi), town[:-1] if len(town) > 2 else town
    for kind, n in zip(KINDS, sizes, strict=True):
        for k in range(n):
            angle += 2 * math.pi / 11
            p, code = offset(centre, rng.uniform(1.4, 2.3), angle), f"{i + 1:02d}{k + 1:02d}"
            if kind == "village":
                units.append(_unit(f"V{code}", next(pools["village"]) + "村", kind, tid, p, 700))
            elif kind == "community":
                name = short + next(pools["community"]) + "社区"
                units.append(_unit(f"C{code}", name, kind, tid, p, 600))
            elif kind == "enterprise":
                units.append(_unit(f"E{code}", "阜阳" + next(pools["firm"]), kind, tid, p, 400))
                vehicles.append({"plate": f"皖K-E{code}", "owner_unit_id": f"E{code}"})
            else:
                name = short + PROJECTS[(i + k) % len(PROJECTS)]
                units.append(_unit(f"PJ{code}", name, kind, tid, p, 500))
    vehicles.append({"plate": f"皖K-V{i + 1:02d}01", "owner_unit_id": f"V{i + 1:02d}01"})
    leaders = 2 if tid in TWO_LEADERS else rng.randint(1, 2)
    staff = [
        {
            "staff_id": f"S{i + 1:02d}{k + 1:02d}",
            "name": next(names),
            "unit_id": tid,
            "leader": k < leaders,
        }
        for k in range(leaders + 2)
    ]
    for u in units[1:]:  # a secretary for every village, who is no township leader
        if u["kind"] == "village":
            vid = u["unit_id"]
            staff.append(
                {"staff_id": f"S{vid[1:]}V", "name": next(names), "unit_id": vid, "leader": False}
            )
    return {"units": units, "staff": staff, "vehicles": vehicles}


def interleaved(units: list[Row], tid: str) -> list[Row]:
    """A township's targets with their kinds spread evenly, so any run of visits mixes them."""
    keyed = []
    for ki, kind in enumerate(KINDS):
        these = [u for u in units if u["kind"] == kind and u["township_id"] == tid]
        keyed += [((j + 0.5) / len(these), ki, u["unit_id"]) for j, u in enumerate(these)]
    return [{"target_id": uid, "kind": KINDS[ki]} for _, ki, uid in sorted(keyed)]


def build_reference(rng: random.Random) -> dict[str, Any]:
    """The reference data document: units, staff, vehicles, cadres, assignments, groups."""
    units: list[Row] = [
        {"unit_id": u, "name": n, "kind": "county_dept", "grassroots": False} for u, n in DEPTS
    ]
    vehicles = [
        {"plate": f"皖K-G{i + 1:04d}", "owner_unit_id": u} for i, (u, _) in enumerate(DEPTS)
    ]
    staff: list[Row] = []
    names = iter(rng.sample([s + g for s in SURNAMES for g in GIVEN], 220))
    pools = {
        "village": iter(rng.sample(VILLAGE_WORDS, 48)),
        "community": iter(COMMUNITY_WORDS),
        "firm": iter(rng.sample([h + t for h in FIRM_HEADS for t in FIRM_TAILS], 36)),
    }
    for i in range(len(TOWNS)):
        part = _township(rng, i, names, pools)
        units += part["units"]
        staff += part["staff"]
        vehicles += part["vehicles"]
    cadres, assignments, groups = [], [], []
    for g in range(len(TOWNS)):
        tid, gid = f"T{g + 1:02d}", f"G{g + 1:02d}"
        members = [f"K{g * 5 + k + 1:02d}" for k in range(5)]
        for cid in members:
            home = (SEAT[0] + rng.uniform(-0.01, 0.01), SEAT[1] + rng.uniform(-0.01, 0.01))
            cadres.append(
                {
                    "cadre_id": cid,
                    "name": next(names),
                    "home_unit_id": rng.choice(DEPTS)[0],
                    "rank": rng.choice(RANKS),
                    "home_lat": round(home[0], 4),
                    "home_lon": round(home[1], 4),
                    "hometown": rng.choice(HOMETOWNS),
                }
            )
            assignments.append(
                {
                    "cadre_id": cid,
                    "group_id": gid,
                    "township_id": tid,
                    "start": "2026-01-01",
                    "end": "2026-12-31",
                }
            )
        groups.append(
            {
                "group_id": gid,
                "name": f"{TOWNS[g]}四进攻坚工作组",
                "leader_id": members[0],
                "targets": interleaved(units, tid),
            }
        )
    return {
        "timezone": "Asia/Shanghai",
        "cadres": cadres,
        "assignments": assignments,
        "groups": groups,
        "units": units,
        "staff": staff,
        "vehicles": vehicles,
    }
