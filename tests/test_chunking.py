from index.chunking import ORPHAN_MAX_CHARS, ChunkingConfig, chunk_document
from index.documents import Document
from index.loaders import load_file, load_sources
from tests.conftest import KNOWLEDGE


def _chunks(path):
    (document,), _ = load_file(path)
    return chunk_document(document)


def test_health_ministry_clause_eight_has_its_path():
    chunks = _chunks(KNOWLEDGE / "policy" / "health-ministry-opinion-2012.md")
    twelve_three_twenty = [c for c in chunks if "打造成卫生政务公开和政务服务的重要平台" in c.text]
    assert len(twelve_three_twenty) == 1
    assert twelve_three_twenty[0].section == (
        "二、以改革创新的精神深化卫生政务公开工作",
        "（八）充分发挥“12320”卫生热线作用",
    )


def test_arabic_numbered_clauses_nest_under_chinese_numbered_parts():
    chunks = _chunks(KNOWLEDGE / "policy" / "central-opinion-2011.md")
    seventh = next(c for c in chunks if c.section and c.section[-1].startswith("7. "))
    assert seventh.section[-2] == "二、以改革创新精神深化政务公开工作"
    assert seventh.section[-1] == "7. 深入实施政府信息公开条例"


def test_service_guide_sections_keep_their_items_together():
    chunks = _chunks(KNOWLEDGE / "guides" / "birth-medical-certificate.md")
    sections = [c.section for c in chunks]
    for heading in ("四、申请材料", "八、收费依据与标准", "十、监督渠道"):
        assert any(heading in section for section in sections)
    materials = next(c for c in chunks if c.section == ("四、申请材料",))
    assert "1." in materials.text  # the numbered items stay with their heading


def test_long_clauses_are_cut_and_every_chunk_fits(seeds_dir):
    documents, _ = load_sources([seeds_dir])
    for document in documents:
        for chunk in chunk_document(document):
            assert 0 < len(chunk.text) <= 600
            assert chunk.doc_id == document.doc_id


def test_a_policy_interpretation_question_is_its_own_section_even_when_it_ends_in_a_full_stop():
    chunks = _chunks(KNOWLEDGE / "policy" / "central-opinion-2011-interpretation.md")
    labels = [c.section[-1] for c in chunks if c.section]
    assert "问：请简要介绍一下《意见》的出台过程。" in labels
    assert "问" not in labels  # it was cut at its colon once, and cited as "问"


def test_faq_entries_are_their_own_sections():
    chunks = _chunks(KNOWLEDGE / "health" / "health-faq.md")
    assert len(chunks) >= 40
    assert all(c.section and c.section[0][0].isdigit() for c in chunks)


# --- orphan merge: a one-line clause is merged with its neighbour, and its label stays on the chunk ---


def _guide(body: str) -> Document:
    return Document(doc_id="guide", title="某证办理指南", body=body, source="guide.md", kind="service_guide")


GUIDE = """## 七、办理结果

《某证》，用于办理户口登记、预防接种、参加医保等。请妥善保管，不要折叠、涂改或塑封。

## 八、收费依据与标准

不收费。

## 九、办理地点与时间

某市妇幼保健院门诊楼一楼窗口，周一至周五 8:30—12:00、14:00—17:30（法定节假日除外）。
"""


def test_a_one_line_field_joins_the_field_before_it_and_keeps_its_label():
    chunks = chunk_document(_guide(GUIDE))
    assert [c.section for c in chunks] == [("七、办理结果", "八、收费依据与标准"), ("九、办理地点与时间",)]
    merged = chunks[0]
    # The merged clause is introduced by its heading, so the passage still reads as two fields.
    assert merged.text.endswith("八、收费依据与标准\n不收费。")
    assert merged.extra["clauses"] == [
        [["七、办理结果"], "《某证》，用于办理户口登记、预防接种、参加医保等。请妥善保管，不要折叠、涂改或塑封。"],
        [["八、收费依据与标准"], "不收费。"],
    ]
    assert "clauses" not in chunks[1].extra  # a chunk of one clause says nothing more


def test_an_orphan_with_no_clause_before_it_joins_the_next_one():
    law = "《中华人民共和国某某法》第十二条、第十三条及其实施细则的有关规定。"
    body = f"## 一、办理主体\n\n某委。\n\n## 二、办理依据\n\n{law}\n"
    (chunk,) = chunk_document(_guide(body))
    assert chunk.section == ("一、办理主体", "二、办理依据")
    assert chunk.text == f"某委。\n二、办理依据\n{law}"


def test_orphans_merge_only_within_their_clause_family():
    long = "这是一段足够长的条款正文，" * 15
    body = f"一、总则\n\n（一）甲。{long}\n\n（二）丙。{long}\n\n二、分则\n\n（一）乙\n\n短句。\n\n（二）丁{long * 4}\n"
    chunks = chunk_document(Document(doc_id="d", title="某意见", body=body, source="d.md"))
    orphan = next(c for c in chunks if "短句。" in c.text)
    # Its cousin (一、 > （二）) is right before it and has room, but is of another clause; its sibling is full.
    assert orphan.section == ("二、分则", "（一）乙") and orphan.text == "短句。"


def test_a_merge_never_makes_a_chunk_too_long():
    body = "## 七、办理结果\n\n" + "很长的结果说明。" * 74 + "\n\n## 八、收费依据与标准\n\n不收费。\n"
    chunks = chunk_document(_guide(body), ChunkingConfig(max_chars=600))
    assert all(len(c.text) <= 600 for c in chunks)
    assert chunks[-1].section == ("八、收费依据与标准",)  # nothing before it has room, nothing after it


def test_no_orphans_are_left_in_the_guides_and_every_field_keeps_its_label():
    for path in sorted((KNOWLEDGE / "guides").glob("*.md")):
        chunks = _chunks(path)
        assert all(len(c.text) >= ORPHAN_MAX_CHARS for c in chunks), path.name
        labels = [label for c in chunks for label in c.section]
        assert sum(label.startswith(("八、", "十、")) for label in labels) == 2, path.name


def test_orphan_merge_can_be_turned_off():
    chunks = chunk_document(_guide(GUIDE), ChunkingConfig(orphan_chars=0))
    assert [c.section for c in chunks] == [("七、办理结果",), ("八、收费依据与标准",), ("九、办理地点与时间",)]
