"""Emergencies (紧急情况): 120/110/119 guidance first, before anything else.

The gateway runs this net before a message reaches Rasa, so that a missed classification or an
outage never delays the guidance; the `emergency` intent is the second net and says the same words
(actions/handoff_actions.py calls `guidance` too).

The rule, in the order it is applied:

1. A cry for help (救命, 快来人, 快叫救护车) or words that are themselves the danger (不想活了, 想死)
   make an emergency whatever else the message says.
2. A danger named inside a hypothetical (如果, 万一, 遇到, 预防…, …的时候) or in the past (晕倒过) is
   not happening, and counts no further.
3. A danger *happening now to a person* is an emergency whatever words follow: a person near the
   danger (我爸, 有人, 邻居, 楼里, 孩子) with a present or perfective marker (了, 刚才, 现在, 突然), or a
   particular person in a state (我老公叫不醒). So "我爸晕倒了叫不醒是什么原因" is one. A generic
   frame (一般, 预防, 的症状) cancels only a generic person (孩子, 老人), never a particular one (我家孩子);
   a past (上次, 出院后) or an after-the-fact matter (报销, 验伤) cancels it unless a now-marker in the
   same clause (现在, 刚才, 还在) says it is still going on.
4. A question *about* a danger (科普: 一般, 是什么原因, 怎么急救, 多久) with nobody in it is knowledge.
5. Anything else that names a danger is an emergency: when in doubt, guide. A false alarm costs an
   operator a minute; a miss can cost a life.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Category(StrEnum):
    MEDICAL = "medical"
    POISONING = "poisoning"
    VIOLENCE = "violence"
    FIRE = "fire"
    TRAFFIC = "traffic"
    DROWNING = "drowning"
    ELECTRIC_SHOCK = "electric_shock"
    SELF_HARM = "self_harm"
    CHILDREN = "children"
    ELDERLY = "elderly"
    PREGNANCY = "pregnancy"


@dataclass(frozen=True)
class EmergencyAssessment:
    category: Category
    #: Which step of the rule decided: "urgent" (1), "happening" (3) or "in doubt" (5).
    reason: str
    #: The danger words found, in the order they occur.
    dangers: tuple[str, ...]


DEFAULT_PSYCH_LINE = "12356"  # 全国统一心理援助热线

# --- Normalisation -------------------------------------------------------------------------------------

# Traditional characters and a little Cantonese, only those the patterns below need; typed homophones
# that are common in this domain (晕到 for 晕倒).
_CHARS = str.maketrans(
    "媽爺剛暈現藥傷殺車禍燒煙氣觸電擊墜樓應沒嗎麼時預發頭腦懷陣產來說話過還這們個裏裡嘔護衝著門開關兒孫幾會點樣為問請險喚歲臟燙漏劃腕囤遺書嚥農",
    "妈爷刚晕现药伤杀车祸烧烟气触电击坠楼应没吗么时预发头脑怀阵产来说话过还这们个里里呕护冲着门开关儿孙几会点样为问请险唤岁脏烫漏划腕囤遗书咽农",
)
_PHRASES = {"咗": "了", "佢": "他", "冇": "没", "唔": "不", "晕低": "晕倒", "阿拉": "我们", "屋里厢": "家里"}
_PHRASES |= {"晕到": "晕倒", "昏到": "昏倒", "晕道": "晕倒", "就命": "救命", "触点了": "触电了", "溺死": "淹死"}
# Spaces between Chinese characters are where a speaker paused (ASR output), not word boundaries.
_CJK_SPACE = re.compile(r"(?<=[\u3400-\u9fff])\s+|\s+(?=[\u3400-\u9fff])")


def normalise(text: str) -> str:
    """NFKC (full-width to half-width), lower case, simplified characters, no pauses."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_CHARS)
    for old, new in _PHRASES.items():
        text = text.replace(old, new)
    return _CJK_SPACE.sub("", text).strip()


# --- Signals -------------------------------------------------------------------------------------------

_CLAUSE_END = "，。！？；,.!?;"


def _words(*alternatives: str) -> re.Pattern[str]:
    """One pattern from alternatives; "…" in them stands for any character within the same clause."""
    return re.compile("|".join(alternatives).replace("…", f"[^{_CLAUSE_END}]"))


# Kinship words: whose danger it is (我爸, 俺娘, 我家那口子).
_KIN = (
    "爸|妈|爹|娘|老公|老婆|媳妇|丈夫|妻子|爱人|对象|男朋友|女朋友|哥|姐|弟|妹|舅|姨|叔|姑|伯|爷爷|奶奶|外公|外婆"
    "|姥姥|姥爷|老伴|老头子|婆婆|公公|岳父|岳母|儿子|女儿|闺女|娃|侄|外甥|孙|那口子"
)

# Dangers by category. Children, the elderly and pregnancy are also decided by who it happens to.
_DANGERS: dict[Category, re.Pattern[str]] = {
    Category.SELF_HARM: _words(
        "自杀|轻生|寻死|不想…{0,2}活|活不下去|活着…{0,3}没(意思|意义|劲)|想死(?!你)|去死|死了算了|一了百了",
        "结束(自己|这一切|生命)|撑不下去|不想…{0,2}拖累|遗书|割腕|(割|划)(自己|手)|刀…{0,3}手腕",
        "跳楼|跳下去|跳(河|江|湖|海|桥)|上吊|(站|在|到)…{0,2}(楼顶|天台|桥上)",
        # an overdose: 吃了一瓶安眠药, 吞了一把药, 囤了好多药
        "(吃|吞|服)(了|下)?…{0,2}(一整|整|一|好多|很多|一大|大|半|几十|一堆)(瓶|板|盒|把|堆)|囤…{0,3}药",
    ),
    Category.PREGNANCY: _words(
        "羊水破|破水|要生了|快生了|头(都)?出来了|见红|宫缩|胎动|流产|宫外孕|产后…{0,4}出血|生完…{0,4}(出血|血)",
        "(怀孕|孕|预产期)…{0,12}(流水|肚子…{0,3}(疼|痛)|腹痛)",
    ),
    Category.FIRE: _words(
        "着火|着了火|起火|失火|火灾|烧起来|烧着了|冒(黑)?烟|浓烟|(全|都)是烟|(火|火势|火苗)…{0,3}(很大|好大|越来越大|窜)",
        "(楼|家|房|屋|车|厂|店)…{0,3}着了|爆炸|自燃|冒火花|被困",
    ),
    Category.VIOLENCE: _words(
        "(拿|持|举)(着)?…{0,2}(刀|棍|枪|斧|砖|皮带|凳子|锤子)|菜刀|砍|捅|刺伤|持枪",
        "(在|又|要|正)打(我|人|孩子|他|她)|打我|打得(很|好|太)?(凶|狠)|掐(我|脖子)|打群架|打架",
        # 被我老公打, 被人捅; not 被电, 被车撞 (their own categories), 被狗咬了要打针, 被打扰
        "被(?![电雷车狗猫蛇蜂虫])…{0,4}(打(?!电话|扰|针|疫苗|折)|揍|掐|绑|关|抢劫|劫持|追|砍|捅|刺|威胁)|(把|被)(我|人|她|他)…{0,2}堵",
        "家暴|家庭暴力|杀(了|人|我)|要杀|抢劫|抢(钱|包|孩子)|闯进|撬门|砸门|跟踪|一直跟着|绑架|劫持|强奸|性侵",
    ),
    Category.TRAFFIC: _words(
        "车祸|撞车|追尾|翻车|交通事故|车…{0,8}(撞|压|碾)|被撞|撞飞|撞…{0,3}车|翻(到|进)…{0,2}(沟|河)",
        "卡在车里|压在车(底)?下|骑…{0,4}摔",
    ),
    Category.DROWNING: _words(
        "溺水|落水|淹(死|着|了)|呛(了)?水|(掉|跌|落|栽|滑)(进|到|下)?…{0,4}(河|江|湖|海|水|池|塘|井|冰窟窿)",
        "(河|江|湖|海|水|池|塘|井)边…{0,6}(掉|落|滑)下去|被(浪|水)…{0,2}(卷|冲)走|沉下去|扑腾|漂着…{0,2}人",
        "游泳…{0,6}(抽筋|没上来|沉)",
    ),
    Category.ELECTRIC_SHOCK: _words("触电|被电|电(到|击|倒|伤|晕|麻|打)|漏电|雷(劈|击)|高压线|电线…{0,4}(断|砸|碰)"),
    Category.POISONING: _words(
        "中毒|服毒|毒气|氯气|老鼠药|敌敌畏|百草枯|除草剂|杀虫剂|误…{0,6}(喝|吃|服|食|吞)",
        "(喝|吃|吞|服)…{0,6}(农药|消毒(水|液)|84|洗洁精|漂白|汽油|假酒|甲醇|毒蘑菇|野蘑菇|野生菌)",
        "药…{0,3}(吃|吞|喝)(了|下)|(煤气|天然气|燃气|液化气)(…{0,3}(漏|泄)|味)|烧炭|上吐下泻|吸毒过量",
    ),
    Category.CHILDREN: _words(
        # missing (an old person too: the person decides, see _category)
        f"走丢|走失|人不见了|不见了人|找不到(人了|他|她)|找不到人(?=$|[{_CLAUSE_END}])|人找不到|没回(来|家)",
        "被…{0,2}(抱|拐|带)走|拐走|(锁|闷|关)在车里|惊厥",
        "(吞|吃)(了|下|进)?…{0,5}(电池|硬币|磁铁|珠子|纽扣|钉子|异物)|(电池|硬币|磁铁|纽扣|异物)…{0,3}吞",
    ),
    Category.ELDERLY: _words("敲门…{0,4}(没人|不应|不开)|好几天没出门"),
    Category.MEDICAL: _words(
        # unconscious, collapsed
        "昏迷|昏倒|昏过去|晕倒|晕过去|晕了过去|晕厥|晕在|栽倒|倒地|倒在|倒下|瘫倒|瘫在|不省人事|人事不省",
        "(叫|喊|拍)…{0,4}(不醒|不应|不答应|不起来|没反应|没动静)|没(有)?(意识|知觉)|没反应|意识不清|不认人",
        "一动不动|(躺|倒)…{0,6}不动|不动了|突然…{0,3}(倒|不说话|说不出话|不动)|不说话了",
        f"({_KIN}|他|她|人|孩子)…{{0,2}}不行了",
        # fits, breathing, choking
        "抽(过去|起来)|烧得…{0,2}抽|抽搐|抽风|抽筋|手脚…{0,2}抽|人在抽|口吐白沫|眼睛…{0,2}翻",
        "没(有)?(呼吸|气了)|不喘气|喘不(上|过|了)|喘不上来|呼吸困难|呼吸…{0,2}(微弱|怪)|憋得|憋紫|窒息",
        "(脸|嘴唇|嘴)…{0,3}(紫|青|发灰)|喉咙(发紧|肿)|说不出话|噎(住|着|到)|呛到|卡(住|着|在)…{0,3}(喉咙|嗓子|气管)|(吃|喝|吞|咽)…{0,6}卡(住|着|到)",
        # heart, stroke
        "心脏骤停|心跳(停|没)|心脏病(犯|发)|心梗|心口…{0,2}(剧痛|疼|痛)|捂着胸口|心慌|心跳…{0,2}(乱|快)",
        "胸口…{0,3}(痛|疼|像压|压着|闷)|中风|脑梗|脑出血|偏瘫|半边身子|嘴(也)?歪",
        "说话…{0,4}(不清|含糊|打结)|话(也)?说不清|手脚…{0,3}没(力|劲)|血压…{0,3}(二百|两百|200)|头(痛|疼)得(厉害|要炸)",
        # bleeding, injuries, burns
        "大出血|出血|流血|止不住|(吐|流|咳|出)(了)?(好多|很多|一地|一大口|大量|不少)?的?血|是血|是伤|头破|磕破",
        "骨头…{0,4}(断|露)|(摔|掉|跌|栽|坠)(下来|下去|了一跤|伤)|从…{1,6}(摔|掉|跌|坠)|被…{0,4}砸(了|伤|中|倒)",
        "爬不起来|起不来|动不了|站不(起来|住|稳)|迷糊",
        "(烫|泼)…{0,6}(起泡|一大片|身上)|起(了)?…{0,3}水泡|皮都掉|疼得(打滚|受不了)|大面积(烧|烫)伤",
        # allergy, bites, fever
        "休克|过敏…{0,8}(喉咙|喘|肿)|肿得|被(毒)?蛇咬|高烧…{0,4}抽|浑身滚烫",
    ),
}

# Step 1: a cry for help, or words that are themselves the danger (said about oneself, mostly).
_SELF_EVIDENT_SELF_HARM = _words(
    "不想…{0,2}活|想死(?!你)|活不下去|死了算了|一了百了|结束(自己|这一切|生命)|遗书|撑不下去|(要|想)自杀"
)
_URGENT = _words(
    "救命(?![药钱恩稻])|救救|快来人|来人啊|help|sos|快(叫|打)…{0,2}(救护车|120|110|119)|叫救护车|快报警",
    "在线等|快不行了",
    _SELF_EVIDENT_SELF_HARM.pattern,
)

# Step 3: who it happens to. Particular people (mine, someone here) and generic ones (孩子 as a topic).
_PARTICULAR = _words(
    "我(?!想(问|咨询|了解|知道|请教|打听)|(问|咨询)(一)?下)",  # not the speaker asking: 我想问一下
    "俺|咱|有人|有一?个|几个人|好几个|两个人|一家人|邻居|隔壁|楼上|楼下|同事|朋友|室友|同学|老师|师傅|工人|老板",
    "保姆|司机|路人|小哥|(?<!其)他|她|这人|那人|这个人|那个人",
    # a particular place stands for the people in it: 楼里着火了, 这边有人…
    "家里|屋里|楼里|楼道|厨房|宿舍|店里|厂里|工地|单位|公司|小区|村里|这里|这边|那边|门口|路口",
    _KIN,
)
_GENERIC_PERSON = _words("孩子|小孩|儿童|宝宝|宝贝|婴儿|新生儿|幼儿|小朋友|老人|老年人|孕妇|产妇|病人|患者|伤员|一个人")
_CHILD = _words("孩子|小孩|儿童|宝宝|宝贝|婴儿|新生儿|幼儿|小朋友|儿子|女儿|闺女|娃|小子|学生")
_ELDER = _words(
    "老人|老年|老头|老太|爷爷|奶奶|姥姥|姥爷|外公|外婆|老爷子|公公|婆婆|岳父|岳母|丈母娘|老伴|老母亲|老父亲|老妈|老爸",
    "[六七八九]十多?岁|独居",
)
_PREGNANT = _words("孕|怀着|预产期|产妇|产后|生完孩子|坐月子")

_PERFECTIVE = _words("[了啦咯](?!解)")  # 晕倒了, 着火啦; not 了解
_NOW = _words("现在|正在|刚才|刚刚|刚(?!开始|出生)|还在|到现在|这会儿|此刻|已经")
_SUDDEN = _words("突然|忽然|一下子|一直|直接")
_HABITUAL = _words("总是|老是|经常|常常|时常|每次|有时|偶尔|一到|每天|每晚|动不动")
# Dangers that name a condition someone is in, not an event: with a particular person they are now.
_STATE = _words(
    "不醒|不应|没反应|没动静|没(有)?(呼吸|意识|知觉|气)|不喘气|喘不|抽搐|抽风|口吐白沫|不动|说不出话|止不住",
    "昏迷|意识不清|窒息|噎|卡(住|着|在)|憋|紫|青|不行了",
)
_PAST = _words(
    "昨天|前天|上次|以前|之前|去年|前年|上个月|上周|上星期|前几天|前两天|几年前|曾经|那次|当时",
    "出院|康复|恢复期|复查|住院",
)
# After the fact: paperwork and proof, not rescue. Cancels step 3 unless a now-marker says otherwise.
_AFTERMATH = _words(
    "报销|医保|赔偿|鉴定|理赔|保险|(火灾|意外|人身|交通|车)险|医药费|医疗费|垫付|费用|多少钱|收费",
    "验伤|证据|保护令|起诉|报名|哪些部门|不吃亏",
)
# A complaint or a suggestion about a matter; cancels only step 5 ("我爸在医院晕倒了没人管" still guides).
_GRIEVANCE = _words("投诉|举报|不负责任|态度|建议|反映|整治|隐患|监管")

# Step 2: hypotheticals. The forward ones reach to the end of their clause; "…的时候" reaches back.
_IF = _words("如果|万一|假如|假设|假若|(?<!主)要是|若是|倘若|一旦|预防|防止|避免|防范|(?<!消)防")
# Hypothetical unless a particular person comes first: "看到有人落水" asks, "我看到有人落水" reports;
# "怎么判断一个人是不是中风了" asks, "我爸是不是中风了" reports.
_ENCOUNTER = _words("遇到|碰到|遇见|遭遇|看到|看见|发现|判断|是不是|是否")
_WHEN = _words("^…{0,3}?(的)?(时候|时(?!间)|的话)")

# Step 4: framing a danger as a topic.
_GENERIC_FRAME = _words(
    "一般|通常|往往|平时|日常|常见|大多|容易|为什么会|为啥会|科普|知识|常识|前兆|征兆|先兆|早期|症状|表现|后遗症",
    "区别|危害|原则|了解|预防|防止|避免|防范|培训|讲座|宣传|教育|听说|据说|新闻|该不该|一回事|多久会|正确",
    "心理(疏导|干预|健康)|干预|疏导",
)
_QUESTION = _words(
    "(怎么|如何|怎样|咋)(样)?…{0,3}?(急救|施救|救|处理|应对|做|检查|排查|识别|判断|逃生|自救|自保|预防|避免|防止"
    "|使用|用|护理|报警|求助|申请|劝|找|区分|分辨|收集|保护|扶|搬运|报销|配备|买)",
    "原因|为什么|为啥|什么病|是什么|是不是|怎么回事|咋回事|什么感觉|正常吗|要紧吗|严重吗|去医院吗|该去医院",
    "(需要|要|能|可以|会)…{0,6}吗|要不要|什么疫苗|有哪些|有什么|哪些|多久|能不能|能用|会不会|会怎样|会怎么样",
    "注意|方法|步骤|措施|吃什么|什么药|什么科|哪个科|还是|谁先|哪里|多少",
)

_CLAUSE = _words("…+")
_CLAUSE_BREAK = re.compile(f"[{_CLAUSE_END}]")
_NEAR_BEFORE = 16  # characters: "我家那口子刚才吃着饭呢突然就说不出话了"
_NEAR_AFTER = 6


@dataclass(frozen=True)
class _Danger:
    category: Category
    start: int
    end: int
    word: str


def _hypothetical_spans(text: str) -> list[tuple[int, int]]:
    """Where a hypothetical reaches: from its marker to the end of the clause."""
    spans = []
    for clause in _CLAUSE.finditer(text):
        for marker in _IF.finditer(clause.group()):
            spans.append((clause.start() + marker.start(), clause.end()))
        for marker in _ENCOUNTER.finditer(clause.group()):
            if not _PARTICULAR.search(clause.group()[: marker.start()]):  # "我看到有人落水" is a report
                spans.append((clause.start() + marker.start(), clause.end()))
    return spans


def _inside(position: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= position < end for start, end in spans)


def _is_hypothetical(danger: _Danger, text: str, spans: list[tuple[int, int]]) -> bool:
    return _inside(danger.start, spans) or bool(_WHEN.match(text[danger.end :]))


def _is_past(danger: _Danger, text: str) -> bool:
    return bool(re.match(r"过(?![去来])", text[danger.end : danger.end + 2]))  # 晕倒过一次


def _is_happening(danger: _Danger, text: str, spans: list[tuple[int, int]]) -> bool:
    """Step 3: someone is in this danger now."""
    before = text[max(0, danger.start - _NEAR_BEFORE) : danger.start]
    after = text[danger.end : danger.end + _NEAR_AFTER]
    # 到现在还叫不醒; not "去年脑出血，现在医保…": the now-marker must be in the danger's own clause.
    clause_before = _CLAUSE_BREAK.split(text[max(0, danger.start - 8) : danger.start])[-1]
    if _NOW.search(clause_before + danger.word + _CLAUSE_BREAK.split(after)[0]):
        return True
    if _PAST.search(text) or _AFTERMATH.search(text):
        return False
    offset = danger.start - len(before)
    particular = any(not _inside(offset + m.start(), spans) for m in _PARTICULAR.finditer(before))
    generic = any(not _inside(offset + m.start(), spans) for m in _GENERIC_PERSON.finditer(before + danger.word))
    perfective = bool(_PERFECTIVE.search(danger.word + after))
    if particular:
        # 我爸突然晕倒, 我老公叫不醒: no 了 needed for a particular person, unless it is a habit (总是叫不醒).
        ongoing = _SUDDEN.search(before + danger.word) or _STATE.search(danger.word)
        return perfective or bool(ongoing and not _HABITUAL.search(before + danger.word))
    return generic and perfective and not _GENERIC_FRAME.search(text)


def _category(dangers: list[_Danger], text: str) -> Category:
    found = {danger.category for danger in dangers}
    if Category.SELF_HARM in found or _SELF_EVIDENT_SELF_HARM.search(text):
        return Category.SELF_HARM
    if Category.PREGNANCY in found or (dangers and _PREGNANT.search(text)):
        return Category.PREGNANCY
    for category in (
        Category.TRAFFIC,
        Category.FIRE,
        Category.VIOLENCE,
        Category.DROWNING,
        Category.ELECTRIC_SHOCK,
        Category.POISONING,
    ):
        if category in found:
            return category
    # A medical danger, a child's or an old person's: the nearest person before it decides.
    first = dangers[0].start if dangers else len(text)
    people = [(m.start(), Category.CHILDREN) for m in _CHILD.finditer(text, 0, first)]
    people += [(m.start(), Category.ELDERLY) for m in _ELDER.finditer(text, 0, first)]
    if people:
        return max(people)[1]
    if _CHILD.search(text):
        return Category.CHILDREN
    if _ELDER.search(text):
        return Category.ELDERLY
    for category in (Category.CHILDREN, Category.ELDERLY):
        if category in found:
            return category
    return Category.MEDICAL


def _dangers(text: str) -> list[_Danger]:
    # Each category on its own: "从桥上掉进江里" is a fall and a drowning at once.
    found = [
        _Danger(category, match.start(), match.end(), match.group())
        for category, pattern in _DANGERS.items()
        for match in pattern.finditer(text)
    ]
    return sorted(found, key=lambda danger: danger.start)


def assess(text: str) -> EmergencyAssessment | None:
    """An emergency in progress, with its category, or None for anything else (knowledge questions too)."""
    text = normalise(text)
    dangers = _dangers(text)
    words = tuple(danger.word for danger in dangers)
    if _URGENT.search(text):
        return EmergencyAssessment(_category(dangers, text), "urgent", words)
    if not dangers:
        return None
    spans = _hypothetical_spans(text)
    live = [d for d in dangers if not _is_hypothetical(d, text, spans) and not _is_past(d, text)]
    if any(_is_happening(danger, text, spans) for danger in live):
        return EmergencyAssessment(_category(live, text), "happening", words)
    frames = (_GENERIC_FRAME, _QUESTION, _PAST, _HABITUAL, _AFTERMATH, _GRIEVANCE)
    if not live or any(frame.search(text) for frame in frames):
        return None
    return EmergencyAssessment(_category(live, text), "in doubt", words)


def is_emergency(text: str) -> bool:
    return assess(text) is not None


# --- Guidance ------------------------------------------------------------------------------------------

_CALL = {
    Category.FIRE: "请立即拨打119火警电话，有人受伤拨打120，需要警察拨打110。",
    Category.VIOLENCE: "请立即拨打110报警，有人受伤拨打120急救电话。",
    Category.TRAFFIC: "请立即拨打120急救电话，并拨打122或110报警，车辆起火拨打119。",
    Category.DROWNING: "请立即拨打120急救电话，需要水上救援时同时拨打110或119。",
    Category.ELECTRIC_SHOCK: "请立即拨打120急救电话；高压线、电力设施事故同时拨打110。",
}
_ADVICE = {
    Category.MEDICAL: "等待时让病人平躺或侧卧，保持呼吸道通畅，不要喂水喂药；"
    "没有呼吸、叫不醒时，按急救调度员的电话指导做胸外按压，附近有AED就取来用。",
    Category.POISONING: "燃气、煤气或一氧化碳中毒：先关气源、开窗通风，把人移到空气新鲜处，现场不要开关电器；"
    "误服药物、农药：保留药瓶或包装带去医院，是否催吐听急救人员的。",
    Category.VIOLENCE: "先离开危险，到安全的地方或锁门躲避；不方便说话时，很多地方可以发短信到12110报警。",
    Category.FIRE: "火小可用灭火器，火大立即撤离：用湿毛巾捂住口鼻，低姿沿安全出口走，不要乘电梯；"
    "被困时关门，用湿布堵住门缝，到窗口呼救。",
    Category.TRAFFIC: "开启双闪、在来车方向放警告标志，人员撤到护栏外；不要随意搬动伤员，除非有起火等危险。",
    Category.DROWNING: "不会游泳不要下水，抛绳子、救生圈、竹竿施救；"
    "救上岸后清理口鼻，不要控水，没有呼吸立即做心肺复苏。",
    Category.ELECTRIC_SHOCK: "先切断电源，或用干燥的木棍、塑料物挑开电线，不要直接用手拉人；"
    "远离断落的高压线；没有呼吸立即做心肺复苏。",
    Category.CHILDREN: "孩子噎住：1岁以下面朝下拍背5次、再按压胸部5次，1岁以上用海姆立克法；"
    "孩子走失或被带走，请立即拨打110。",
    Category.ELDERLY: "老人摔倒不要急着扶起，先看是否清醒、能否活动，怀疑骨折或头部受伤不要搬动；"
    "老人走失请立即拨打110。",
    Category.PREGNANCY: "让孕妇左侧卧位休息，不要自行开车赶路；破水后尽量平躺，带上产检资料等救护车。",
}
_HANDOFF = "我正在为您优先转接人工客服。"

EMERGENCY_GUIDANCE = (
    "【紧急提示】如有人生命危险或突发急症，请立即拨打120急救电话；遇到人身安全威胁或违法犯罪，请立即拨打110报警；"
    "火灾拨打119。拨打时说清详细地址、伤病情况和您的电话，并保持电话畅通。"
    "等待救援时不要随意搬动伤病人员，有条件时按急救人员的电话指导操作。" + _HANDOFF
)


def guidance(assessment: EmergencyAssessment | None, psych_line: str = DEFAULT_PSYCH_LINE) -> str:
    """What the citizen reads first: the numbers to call, then what to do while help comes.

    None (an emergency the intent model found, without a category) gets the general guidance.
    """
    if assessment is None:
        return EMERGENCY_GUIDANCE
    if assessment.category is Category.SELF_HARM:
        return (
            "【紧急提示】如果您或身边的人正处在危险中，请立即拨打120急救电话或110报警。"
            f"您也可以随时拨打心理援助热线{psych_line}，有专业的人愿意听您说。"
            "请不要一个人待着，移开药物、刀具等危险物品，联系一位信任的人来陪您。"
            "我在这里陪着您，" + _HANDOFF
        )
    call = _CALL.get(assessment.category, "请立即拨打120急救电话；遇到人身安全威胁请拨打110，火灾拨打119。")
    return (
        f"【紧急提示】{call}拨打时说清详细地址、发生了什么和您的电话，并保持电话畅通。"
        f"{_ADVICE[assessment.category]}{_HANDOFF}"
    )
