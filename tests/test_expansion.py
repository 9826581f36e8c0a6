"""The colloquial → formal lexicon and the query expansion it drives (index/expansion.py)."""

from importlib import resources

import pytest
import yaml

from index.expansion import LEXICON_FILE, MAX_ENTRIES, QueryExpander, default_expander
from index.retriever import Retriever
from tests.conftest import KNOWLEDGE

LEXICON = yaml.safe_load((resources.files("index.resources") / LEXICON_FILE).read_text(encoding="utf-8"))


def _corpus_text() -> str:
    return "".join(
        p.read_text(encoding="utf-8")
        for folder in ("policy", "guides", "health")
        for p in (KNOWLEDGE / folder).glob("*.md")
    )


def test_the_lexicon_is_small_and_every_entry_says_why():
    assert 0 < len(LEXICON) <= MAX_ENTRIES
    for entry in LEXICON:
        assert entry["from"] and entry["to"] and len(entry["why"]) >= 8, entry


def test_every_formal_term_is_a_word_the_corpus_uses_and_no_misspelling_is():
    corpus = _corpus_text()
    for entry in LEXICON:
        assert entry["to"] in corpus, entry["to"]
        if entry.get("typo"):
            assert not any(word in corpus for word in entry["from"]), entry  # a "typo" the documents use is a word


def test_a_colloquial_word_adds_the_formal_term_for_bm25_and_keeps_the_citizens_words():
    expanded = default_expander().expand("我想打听一下卫健委的电话")
    assert expanded.dense == "我想打听一下卫健委的电话"  # e5 reads the question as written
    assert "打听" in expanded.sparse and "卫健委" in expanded.sparse
    assert {"咨询", "卫生健康委员会"} <= set(expanded.sparse.split())
    assert set(expanded.added) == {"咨询", "卫生健康委员会"}


def test_a_misspelling_is_corrected_for_both_retrievers():
    expanded = default_expander().expand("公文的公开属姓有几种")
    assert expanded.dense == "公文的公开属性有几种"
    assert "公开属性" in expanded.sparse and "属姓" not in expanded.sparse


def test_a_question_in_the_documents_own_words_is_left_alone():
    expanded = default_expander().expand("政府信息公开申请的办理时限")
    assert expanded.dense == "政府信息公开申请的办理时限"
    assert expanded.added == ()


def test_longer_phrases_win_over_the_words_inside_them():
    expander = QueryExpander.from_yaml(
        "- {from: [热线], to: 热线服务, why: short form}\n- {from: [12320热线], to: 12320卫生热线, why: the line}\n"
    )
    assert expander.expand("12320热线几点上班").added[0] == "12320卫生热线"


@pytest.mark.parametrize(
    "text",
    [
        "- {from: [打听], to: 咨询}\n",  # no why
        "- {from: [], to: 咨询, why: spoken}\n",
        "- {to: 咨询, why: spoken}\n",
    ],
)
def test_a_bad_entry_is_refused_with_its_number(text):
    with pytest.raises(ValueError, match="entry 1"):
        QueryExpander.from_yaml(text)


def test_a_lexicon_that_grew_too_big_is_refused():
    text = "".join(f"- {{from: [词{n}], to: 咨询, why: spoken form}}\n" for n in range(MAX_ENTRIES + 1))
    with pytest.raises(ValueError, match="at most"):
        QueryExpander.from_yaml(text)


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("医生执照怎么办", "physician-practice-registration"),  # the 医师执业证书, in everyday words
        ("打针本丢了", "vaccination-certificate"),  # the 预防接种证
        ("投素医生态度差", "complaint-and-report-12320"),  # a homophone of 投诉
    ],
)
def test_expansion_lets_bm25_find_what_a_citizen_calls_by_another_name(knowledge_index, embedder, question, doc_id):
    # BM25 alone, where expansion acts most.
    plain = Retriever(knowledge_index, embedder=embedder, expander=None)
    expanded = Retriever(knowledge_index, embedder=embedder)
    assert plain.search(question, k=1, mode="bm25")[0].doc_id != doc_id
    assert expanded.search(question, k=1, mode="bm25")[0].doc_id == doc_id
