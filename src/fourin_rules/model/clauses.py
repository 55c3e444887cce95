"""The seed speech's clause texts (data contract §5): every rule cites exactly one of them."""

from __future__ import annotations

from typing import Final

EMPTY_POST: Final = "保证每天在乡镇(街道)工作,决不能出现空岗"
NO_TAKEOVER: Final = "不主办、不代办、不插手具体事务"

TEN_PROHIBITIONS: Final = (
    "不准干扰基层正常工作",
    "不准占用基层车辆",
    "不准擅自离岗",
    "不准借下基层办私事",
    "不准侵害群众利益",
    "不准在生活上让基层补贴",
    "不准提过分要求",
    "不准公款娱乐",
    "不准吃请收礼",
    "不准工作期间饮酒",
)
THREE_AVOIDANCES: Final = ("避免流于形式", "避免不接地气", "避免增堵添乱")
FOUR_IN_BALANCE: Final = "坚持四进同步"

CLAUSES: Final[tuple[str, ...]] = (
    EMPTY_POST,
    NO_TAKEOVER,
    *TEN_PROHIBITIONS,
    *THREE_AVOIDANCES,
    FOUR_IN_BALANCE,
)
