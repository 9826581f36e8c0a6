from index.cleaning import (
    clean_scraped_text,
    collapse_repeated_headings,
    find_doc_number,
    rejoin_wrapped_lines,
    signature_date,
    split_compilation,
)
from index.normalize import normalize_for_search


def test_site_chrome_is_removed(seeds_dir):
    for seed in sorted(seeds_dir.glob("*.txt")):
        cleaned = clean_scraped_text(seed.read_text(encoding="utf-8"))
        assert "登录 | 注册" not in cleaned
        assert "美章网" not in cleaned
        assert "本站小编" not in cleaned
        assert ">>" not in cleaned


def test_standard_catalogue_headings_are_collapsed(seeds_dir):
    raw = (seeds_dir / "004_180fdaf0ad7274c6.txt").read_text(encoding="utf-8")
    cleaned = clean_scraped_text(raw)
    assert raw.count("推进办事服务公开标准化和信息获取便利化") == 2
    assert cleaned.count("推进办事服务公开标准化和信息获取便利化") == 1
    assert "（二）推进办事服务公开标准化和信息获取便利化" in cleaned  # the better-numbered twin stays


def test_collapse_keeps_distinct_headings():
    text = "（一）甲\n\n（2） 乙\n\n（二）乙\n\n正文。\n\n（三）丙"
    assert collapse_repeated_headings(text).split() == ["（一）甲", "（二）乙", "正文。", "（三）丙"]


def test_wrapped_lines_are_rejoined_but_clauses_are_not():
    text = (
        "１９．加强制度建设。建立和完善规范行政裁量权、加强廉政风险防控、完善政务公开\n"
        "程序、规范服务中心运行。\n"
        "２０．加强监督考核。"
    )
    assert rejoin_wrapped_lines(text).splitlines() == [
        "１９．加强制度建设。建立和完善规范行政裁量权、加强廉政风险防控、完善政务公开程序、规范服务中心运行。",
        "２０．加强监督考核。",
    ]


def test_full_width_is_normalised_for_search_only():
    original = "１２３２０热线（第１条）：ＡＢＣ"
    assert normalize_for_search(original) == "12320热线(第1条):abc"
    assert original == "１２３２０热线（第１条）：ＡＢＣ"


def test_compilation_page_splits_into_its_articles(seeds_dir):
    parts = split_compilation((seeds_dir / "000_1c1d111f0973ce72.txt").read_text(encoding="utf-8"))
    assert [p.number for p in parts] == [1, 2, 3, 4, 5]
    assert parts[4].title == "卫生部关于深化卫生政务公开加强卫生政务服务的意见"
    health = clean_scraped_text(parts[4].body)
    assert signature_date(health) == "2012-03-21"
    assert find_doc_number(health) == "卫办发〔2024〕18号"  # „ ‟ repaired to 〔 〕, year kept as printed
