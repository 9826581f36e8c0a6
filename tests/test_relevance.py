"""Questions written in citizens' words find the right document and clause."""

import json
from pathlib import Path

import pytest

QUESTIONS = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "relevance_questions.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]

# Questions about the founding documents: (question, document, the clause that answers it).
SEED_QUESTIONS = [
    ("卫生部对12320卫生热线建设有什么要求", "health-ministry-opinion-2012", "（八）充分发挥“12320”卫生热线作用"),
    ("血站要公开哪些信息，献血车在哪能查到", "health-ministry-opinion-2012", "（十二）加强血站信息公开工作"),
    ("卫生部门要不要建电子监察系统", "health-ministry-opinion-2012", "（十六）通过信息化建设创新政务服务载体"),
    ("医院的收费和单病种费用会公开吗", "health-ministry-opinion-2012", "（十）积极推进卫生行政部门公开医疗服务信息"),
    ("政府财政预决算和三公经费要公开吗", "central-opinion-2011", "7. 深入实施政府信息公开条例"),
    ("政务服务中心有哪些职能，进驻的窗口归谁管", "central-opinion-2011", "12. 明确服务中心职能"),
    (
        "为什么要把政务服务中心定位成行政机构",
        "central-opinion-2011-interpretation",
        "问：据了解，一些政务服务中心管理机构是事业单位",
    ),
    ("依申请公开是谁收到谁处理吗", "standardization-task-list", "（五）完善依申请公开工作规程"),
    ("公文上的公开属性有哪几种", "standardization-task-list", "（四）健全政府信息全链条管理制度"),
]


def _finds(retriever, question, doc, section, k):
    hits = retriever.search(question, k=k, per_doc=2)
    return any(h.doc_id == doc and section in h.section for h in hits)


@pytest.mark.parametrize(("question", "doc", "section"), SEED_QUESTIONS)
def test_seed_questions_find_their_clause(retriever, question, doc, section):
    assert _finds(retriever, question, doc, section, k=3)


def test_citizen_questions_find_their_document(retriever):
    top_documents = [retriever.search(q["question"], k=1)[0].doc_id for q in QUESTIONS]
    correct = sum(doc == q["doc"] for doc, q in zip(top_documents, QUESTIONS, strict=True))
    # Measured 41/42 with the shipped pipeline (e5-fast, dense weight 0.8).
    assert correct / len(QUESTIONS) >= 0.95


def test_citizen_questions_find_their_section(retriever):
    found_top1 = sum(_finds(retriever, q["question"], q["doc"], q["section"], k=1) for q in QUESTIONS)
    found_top3 = sum(_finds(retriever, q["question"], q["doc"], q["section"], k=3) for q in QUESTIONS)
    # Measured .69 and .76: ten sections of one guide are close to each other, and colloquial
    # questions rarely name the section. A drop below these means retrieval regressed.
    assert found_top1 / len(QUESTIONS) >= 0.65
    assert found_top3 / len(QUESTIONS) >= 0.72


def test_hits_carry_what_a_citation_needs(retriever):
    hits = retriever.search("卫生部要求把12320卫生热线建成什么样的平台", k=3)
    hit = next(h for h in hits if h.doc_id == "health-ministry-opinion-2012")
    assert hit.title == "卫生部关于深化卫生政务公开加强卫生政务服务的意见"
    assert hit.date == "2012-03-21"
    assert hit.section.endswith("（八）充分发挥“12320”卫生热线作用")
    assert "12320" in hit.text


def test_every_document_in_the_corpus_is_reachable(retriever):
    chunk_docs = {c.doc_id for c in retriever.chunks}
    assert "central-opinion-2011-xinhua" not in chunk_docs  # merged into central-opinion-2011
    assert {
        "central-opinion-2011",
        "health-ministry-opinion-2012",
        "birth-medical-certificate",
        "health-faq",
    } <= chunk_docs


def test_relevance_is_a_raw_cosine_that_separates_in_and_out_of_scope(retriever):
    in_scope = [retriever.search(q["question"], k=1)[0].relevance for q in QUESTIONS[:10]]
    out_of_scope = [retriever.search(q, k=1)[0].relevance for q in ("帮我订一张去上海的机票", "今天股票涨了吗")]
    assert all(0 < r < 1 for r in in_scope + out_of_scope)
    assert sum(in_scope) / len(in_scope) > max(out_of_scope)
