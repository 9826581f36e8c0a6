from index.chunking import chunk_document
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
        assert (heading,) in sections
    materials = next(c for c in chunks if c.section == ("四、申请材料",))
    assert "1." in materials.text  # the numbered items stay with their heading


def test_long_clauses_are_cut_and_every_chunk_fits(seeds_dir):
    documents, _ = load_sources([seeds_dir])
    for document in documents:
        for chunk in chunk_document(document):
            assert 0 < len(chunk.text) <= 600
            assert chunk.doc_id == document.doc_id


def test_faq_entries_are_their_own_sections():
    chunks = _chunks(KNOWLEDGE / "health" / "health-faq.md")
    assert len(chunks) >= 40
    assert all(c.section and c.section[0][0].isdigit() for c in chunks)
