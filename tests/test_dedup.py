from index.dedup import find_duplicates
from index.loaders import load_sources
from tests.conftest import KNOWLEDGE


def test_seed_opinion_is_merged_and_conflict_reported(seeds_dir):
    documents, _ = load_sources([seeds_dir])
    (group,) = find_duplicates(documents)
    assert group.kept == "001_10571c58fdb187df"  # the copy with curated metadata and an official URL
    assert set(group.dropped) == {"000_1c1d111f0973ce72-1", "000_1c1d111f0973ce72-2"}
    assert group.conflicts["issue_year"]["001_10571c58fdb187df"] == "2011"
    assert group.conflicts["issue_year"]["000_1c1d111f0973ce72-2"] == "2024"
    assert "conflict in issue_year" in group.describe()


def test_curated_corpus_reports_date_and_number_conflicts():
    documents, _ = load_sources([KNOWLEDGE / "policy"])
    (group,) = find_duplicates(documents)
    assert group.kept == "central-opinion-2011"
    assert group.conflicts["publication_date"]["central-opinion-2011"] == "2011-06-08"
    assert group.conflicts["publication_date"]["central-opinion-2011-xinhua"] == "2011-08-02"
    assert group.conflicts["doc_number"]["central-opinion-2011-reprint"] == "中办发〔2024〕22号"


def test_related_but_different_documents_are_not_merged(seeds_dir):
    documents, _ = load_sources([seeds_dir])
    merged = {d for g in find_duplicates(documents) for d in (g.kept, *g.dropped)}
    # The local implementation plan quotes the opinion, and the health ministry follows it: both stay.
    assert "002_ed44697b374db861" not in merged
    assert "000_1c1d111f0973ce72-5" not in merged
