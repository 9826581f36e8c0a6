"""Defined terms found at ingestion (index/glossary.py), and a "what is X" question that gets the definition."""

import json

import pytest

from actions.answering import Answerer
from index.builder import build_index
from index.documents import Chunk
from index.embedding_cache import EmbeddingCache
from index.glossary import GlossaryEntry, asks_definition, extract_glossary
from index.retriever import FusionConfig, Retriever


def _chunk(text: str, section: tuple[str, ...] = ("一、总体要求",)) -> Chunk:
    return Chunk(chunk_id="d#0", doc_id="d", title="某意见", section=section, text=text)


@pytest.mark.parametrize(
    ("text", "term", "definition"),
    [
        (
            "坚持改革创新，推进行政决策公开、执行公开、管理公开、服务公开和结果公开（以下简称“五公开”），以公开促落实。",
            "五公开",
            "坚持改革创新，推进行政决策公开、执行公开、管理公开、服务公开和结果公开（以下简称“五公开”），以公开促落实。",
        ),
        (
            "政务（行政）服务中心（以下简称服务中心）发展迅速。",
            "服务中心",
            "政务（行政）服务中心（以下简称服务中心）发展迅速。",
        ),
        ("“医疗纠纷”是指医患双方因诊疗活动引发的争议。", "医疗纠纷", "“医疗纠纷”是指医患双方因诊疗活动引发的争议。"),
        (
            "本办法所称医疗机构，即依法取得执业许可证的单位。",
            "医疗机构",
            "本办法所称医疗机构，即依法取得执业许可证的单位。",
        ),
        (
            "全面推行随机抽取检查对象、随机抽取执法人员、检查结果公开的“双随机一公开”制度。",
            "双随机一公开",
            "全面推行随机抽取检查对象、随机抽取执法人员、检查结果公开的“双随机一公开”制度。",
        ),
    ],
)
def test_an_inline_definition_is_found_with_its_sentence(text, term, definition):
    (entry,) = extract_glossary([_chunk("前文。" + text + "后文另起一句。")])
    assert (entry.term, entry.definition) == (term, definition)
    assert (entry.chunk_id, entry.doc_id, entry.section) == ("d#0", "d", ("一、总体要求",))


@pytest.mark.parametrize(
    "text",
    [
        "着力推进“四个发展”，信息公开不够全面、信息更新不够及时、与“四个发展”的要求还不适应。",  # a slogan, not defined
        "建立了“倍增计划”、“电子发展基金”、“资质认证”、“双软认定”等项目管理平台。",  # a list of names
        "推进决策公开、执行公开的“三公开”工作。",  # 3 does not count 2 items
        "卫生部门要公开医疗服务信息。",
    ],
)
def test_quoted_names_and_lists_are_not_definitions(text):
    assert extract_glossary([_chunk(text)]) == []


def test_every_clause_that_defines_a_term_is_kept_once():
    first = _chunk("推进决议、实施结果“两公开”规范发展。抓好决议、实施结果“两公开”。")
    later = Chunk(
        chunk_id="d#5", doc_id="d", title="某意见", section=("五、",), text="宗地，是指土地权属界线封闭的地块。"
    )
    again = Chunk(
        chunk_id="e#0", doc_id="e", title="某规程", section=(), text="宗地是指土地权属界址线封闭的地块或空间。"
    )
    entries = extract_glossary([first, later, again])
    assert [(e.term, e.chunk_id) for e in entries] == [("两公开", "d#0"), ("宗地", "d#5"), ("宗地", "e#0")]
    assert entries[0].definition == "推进决议、实施结果“两公开”规范发展。"  # the first sentence of its chunk


def test_what_is_x_lets_the_ranking_choose_among_the_clauses_that_define_x(tmp_path, embedder):
    folder = tmp_path / "faq"
    folder.mkdir()
    (folder / "_defaults.yml").write_text("disclosure: 主动公开\nstatus: 生效\n", encoding="utf-8")
    records = [
        {"id": "a", "answer": "按照地籍调查规程的规定，宗地是指土地权属界址线封闭的地块或空间，用于测绘。"},
        {"id": "b", "answer": "宗地，是指土地权属界线封闭的地块或者空间。土地以宗地为单位进行登记。"},
        {"id": "c", "answer": "不动产登记以不动产单元为基本单位，不动产单元具有唯一编码。"},
    ]
    (folder / "qa.jsonl").write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    build_index([folder], tmp_path / "index", embedder, EmbeddingCache(None))
    retriever = Retriever(tmp_path / "index", embedder=embedder)
    assert {e.chunk_id for e in retriever.definitions("什么是宗地？")} == {"a#0", "b#0"}
    hits = retriever.search("什么是宗地？", k=3)
    assert {h.doc_id for h in hits[:2]} == {"a", "b"} and all(h.definition for h in hits[:2])
    assert hits[2].doc_id == "c" and not hits[2].definition


def test_a_long_sentence_is_cut_to_the_clause_that_defines():
    text = (
        "，".join(["这是一段前置的铺垫文字"] * 20) + "，推进决策公开和结果公开（以下简称“两公开”），" + "以公开促落实。"
    )
    (entry,) = extract_glossary([_chunk(text)])
    assert entry.definition == "推进决策公开和结果公开（以下简称“两公开”）"


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("五公开是哪五个公开", True),
        ("什么是五公开", True),
        ("“五公开”到底是什么", True),
        ("五公开包括哪些内容", True),
        ("五公开？", True),
        ("推进五公开要做好哪些工作", False),  # about the work, not the term
        ("五公开由哪个部门负责落实", False),
        ("五公开有哪些？", True),
        ("五公开有哪些要求", False),  # its requirements, not what it is
        ("五公开是什么时候提出的", False),
        ("什么是五公开里的结果公开", False),  # another term, inside
        ("五公开是什么意思啊？", True),
    ],
)
def test_a_question_asks_about_the_term_only_when_the_cue_touches_it(question, asks):
    assert asks_definition(question, "五公开") is asks


def test_the_glossary_is_in_the_index_and_points_at_quotable_clauses(knowledge_index, retriever):
    records = [json.loads(line) for line in (knowledge_index / "glossary.jsonl").read_text().splitlines()]
    terms = {r["term"]: GlossaryEntry.from_json(r) for r in records}
    assert {"五公开", "服务中心", "两公开", "双随机一公开"} <= set(terms)
    five = terms["五公开"]
    assert five.doc_id == "siping-implementation-opinion" and five.section == ("一、总体目标和要求",)
    assert "执行公开、管理公开、服务公开和结果公开" in five.definition
    assert five.definition in retriever.chunk(five.chunk_id).text  # verbatim, from the clause it cites


def test_what_is_x_gets_the_defining_clause_first_and_the_answer_shows_the_definition(retriever):
    question = "五公开是哪五个公开"
    hit = retriever.search(question, k=1)[0]
    assert (hit.doc_id, hit.section) == ("siping-implementation-opinion", "一、总体目标和要求")
    assert "结果公开" in hit.definition
    answer = Answerer(retriever).answer(question)
    assert answer.found and answer.citations[0].section == "一、总体目标和要求"
    assert "决策公开、执行公开、管理公开、服务公开和结果公开" in answer.text


def test_without_the_glossary_the_definition_does_not_come_first(knowledge_index, embedder):
    plain = Retriever(knowledge_index, embedder=embedder, fusion=FusionConfig(glossary_boost=0.0))
    hit = plain.search("五公开是哪五个公开", k=1)[0]
    assert not hit.definition
    assert (hit.doc_id, hit.section) != ("siping-implementation-opinion", "一、总体目标和要求")
