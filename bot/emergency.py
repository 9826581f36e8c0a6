"""Emergencies (紧急情况): 120/110 guidance first, before anything else.

The intent model is one net; this keyword list is the second, run by the gateway before a message
reaches Rasa, so that a missed classification or a Rasa outage never delays the guidance. It errs
on the side of caution: a false alarm costs an operator a minute, a miss can cost a life.
"""

from __future__ import annotations

import re
import unicodedata

EMERGENCY_GUIDANCE = (
    "【紧急提示】如有人生命危险或突发急症，请立即拨打120急救电话；遇到人身安全威胁或违法犯罪，请立即拨打110报警；"
    "火灾拨打119。拨打时说清详细地址、伤病情况和您的电话，并保持电话畅通。"
    "等待救援时不要随意搬动伤病人员，有条件时按急救人员的电话指导操作。"
    "我正在为您优先转接人工客服。"
)

_EMERGENCY = re.compile(
    "|".join(
        [
            r"昏迷|晕倒了|晕过去|不省人事|叫不醒|没反应了|没有意识",
            r"抽过去|抽搐|抽风|口吐白沫",
            r"没(有)?呼吸|喘不上气|呼吸困难|憋得脸发紫|窒息|噎住|卡住(了)?喉咙",
            r"心脏骤停|心跳停|胸口剧痛|胸口疼得厉害",
            r"大出血|血止不住|流了很多血|流血不止",
            r"自杀|轻生|不想活了?|活不下去|割腕|跳楼|上吊",
            r"喝了农药|喝农药|吃了(很多|一瓶|好多)(安眠)?药|服毒|煤气中毒|一氧化碳中毒|食物中毒了",
            r"溺水|触电|被砍|拿刀|持刀|砍人|要杀|打死人",
            r"着火了|起火了|火灾",
            r"车祸|被车撞",
            r"休克|中风了|脑出血|偏瘫了",
            r"羊水破了|大出血",
            r"急救|救命",
        ]
    )
)
# Asking *about* a danger (科普) is a knowledge question, not an emergency in progress.
_KNOWLEDGE_QUESTION = re.compile(r"怎么预防|如何预防|预防措施|怎样避免|如何避免|有哪些症状|是什么原因|科普|知识")


def is_emergency(text: str) -> bool:
    text = unicodedata.normalize("NFKC", text)
    if not _EMERGENCY.search(text):
        return False
    return not _KNOWLEDGE_QUESTION.search(text)
