"""The answers gold set (benchmarks/gold.py) against a real build of knowledge/, and its split."""

import hashlib
import json

import pytest

from benchmarks.gold import GOLD_PATH, GoldError, GoldItem, check, load_gold, split_of


@pytest.fixture(scope="module")
def gold() -> list[GoldItem]:
    return load_gold()


def test_every_question_names_a_clause_of_the_built_index_that_holds_its_phrase(gold, knowledge_index):
    assert check(gold, knowledge_index) == []


def test_the_set_is_as_large_as_the_issue_asks(gold):
    kinds = [item.kind for item in gold]
    questions = [item for item in gold if item.kind == "question"]
    assert kinds.count("question") >= 215 and kinds.count("unanswerable") >= 35 and kinds.count("request") >= 45
    assert sum(bool(item.about) for item in questions) >= 70
    assert {item.style for item in gold} == {"colloquial", "long", "typo", "spoken", "formal"}
    assert {item.expect for item in gold if item.kind == "request"} >= {
        "complaint",
        "report",
        "suggestion",
        "disclosure_request",
        "query_ticket",
        "request_human",
        "emergency",
    }


def test_split_is_the_parity_of_the_first_byte_of_the_ids_sha256(gold):
    for item in gold:
        expected = "dev" if hashlib.sha256(item.id.encode()).digest()[0] % 2 == 0 else "test"
        assert split_of(item.id) == item.split == expected
    # Pinned: the rule must never change, or the test split leaks into tuning.
    pinned = {"q-hotline-001": "test", "q-siping-001": "test", "u-001": "dev", "r-complaint-001": "dev"}
    assert {i: split_of(i) for i in pinned} == pinned


def test_both_splits_hold_every_kind_and_together_the_whole_set(gold):
    dev, test = load_gold(split="dev"), load_gold(split="test")
    assert {i.id for i in dev}.isdisjoint({i.id for i in test})
    assert len(dev) + len(test) == len(gold)
    for part in (dev, test):
        assert {i.kind for i in part} == {"question", "unanswerable", "request"}
        assert any(i.about for i in part) and any(i.by_request for i in part)


def test_a_cited_chunk_is_right_when_its_doc_and_one_label_of_its_path_match(gold):
    item = next(i for i in gold if i.id == "q-ministry-009")  # 医院的收费项目要不要对外公开？
    path = ("三、以求真务实的态度扎实推进与人民群众切身利益密切相关的信息公开工作", item.section)
    assert item.is_right_clause(item.doc_id, path)
    assert item.is_right_clause(item.doc_id, " > ".join(path))
    assert item.is_right_clause(item.also[0].doc_id, ("二、…", item.also[0].section))
    assert not item.is_right_clause(
        item.doc_id, ("三、以求真务实的态度扎实推进与人民群众切身利益密切相关的信息公开工作",)
    )
    assert not item.is_right_clause("health-faq", path)


def test_a_bad_record_is_refused_with_its_id(tmp_path):
    good = {
        "id": "q-x-001",
        "text": "问",
        "kind": "question",
        "style": "typo",
        "doc_id": "d",
        "section": "一、",
        "phrase": "p",
    }
    cases = [
        ({**good, "kind": "faq"}, "kind"),
        ({**good, "style": "shouted"}, "style"),
        ({**good, "section": ""}, "section"),
        ({**good, "colour": "red"}, "unknown field"),
        ({"id": "r-x-001", "text": "投诉", "kind": "request", "style": "colloquial", "expect": "complain"}, "expect"),
        ({"id": "u-x-001", "text": "停车费", "kind": "unanswerable", "style": "colloquial", "doc_id": "d"}, "names no"),
    ]
    for record, message in cases:
        path = tmp_path / "gold.jsonl"
        path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
        with pytest.raises(GoldError, match=message):
            load_gold(path)
    path.write_text((json.dumps(good, ensure_ascii=False) + "\n") * 2, encoding="utf-8")
    with pytest.raises(GoldError, match="duplicate id"):
        load_gold(path)


def test_check_reports_a_wrong_clause_a_missing_phrase_and_an_uncovered_document(gold, knowledge_index, tmp_path):
    question = next(i for i in gold if i.id == "q-siping-001")  # 五公开是哪五个公开
    wrong_section = GoldItem(**{**question.__dict__, "id": "q-t-001", "section": "九、不存在的条款"})
    wrong_phrase = GoldItem(**{**question.__dict__, "id": "q-t-002", "text": "五公开指什么", "phrase": "六公开"})
    problems = check([wrong_section, wrong_phrase], knowledge_index, nlu_path=None)
    assert any("q-t-001" in p and "九、不存在的条款" in p for p in problems)
    assert any("q-t-002" in p and "六公开" in p for p in problems)
    assert any(p.startswith("health-faq: indexed, but no gold question") for p in problems)


def test_check_refuses_a_message_copied_into_the_training_data(gold, knowledge_index, tmp_path):
    nlu = tmp_path / "nlu.yml"
    copied = next(i for i in gold if i.kind == "request")
    nlu.write_text(f'version: "3.1"\nnlu:\n  - intent: x\n    examples: |\n      - {copied.text}\n', encoding="utf-8")
    assert any(copied.id in p and "training example" in p for p in check(gold, knowledge_index, nlu_path=nlu))


def test_the_file_is_one_json_object_per_line():
    lines = GOLD_PATH.read_text(encoding="utf-8").splitlines()
    assert all(json.loads(line)["id"] for line in lines)
