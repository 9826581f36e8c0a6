"""The disclosure rule alone: the fence, and which documents may be quoted, named or neither."""

import pytest

from index.disclosure import cut_fences, is_answerable, triage
from index.documents import Document


def test_fenced_blocks_and_comments_are_cut():
    cut = cut_fences("甲<!-- 不公开 -->乙<!--/不公开-->丙<!-- 备注 -->丁")
    assert (cut.text, cut.problem, cut.rejected) == ("甲丙丁", "", False)


def test_nested_fences_close_with_the_outermost_marker():
    cut = cut_fences("甲<!-- 不公开 -->乙<!-- 不公开：个人信息 -->丙<!-- /不公开 -->丁<!-- /不公开 -->戊")
    assert cut.text == "甲戊" and not cut.problem


@pytest.mark.parametrize(
    ("text", "kept", "problem"),
    [
        ("甲\n<!-- 不公开 -->\n乙\n", "甲\n", "不公开 fence opened at line 2 is never closed"),
        ("甲\n<!-- 不公开 -->乙\n丙", "甲\n", "不公开 fence opened at line 2 is never closed"),
        ("甲\n<!-- 不公开\n乙", "甲\n", "comment opened at line 2 is never closed"),
    ],
)
def test_what_is_not_closed_is_cut_to_the_end(text, kept, problem):
    cut = cut_fences(text)
    assert cut.text == kept and cut.problem.startswith(problem) and not cut.rejected


def test_a_stray_closing_marker_rejects_the_text():
    cut = cut_fences("甲\n乙<!-- /不公开 -->丙")
    assert cut.rejected and cut.text == "" and "line 2" in cut.problem


def _document(**attributes):
    return Document(doc_id="d", title="标题", body="正文", source="d.md", **attributes)


@pytest.mark.parametrize(
    ("attributes", "outcome"),
    [
        ({"status": "生效", "disclosure": "主动公开"}, "answerable"),
        ({"status": "生效", "disclosure": "依申请公开"}, "by_request"),
        ({"status": "生效", "disclosure": "不公开"}, "公开属性为不公开"),
        ({"status": "失效", "disclosure": "主动公开"}, "文件已失效"),
        ({"status": "已修订", "disclosure": "主动公开"}, "文件已修订"),
        ({"status": "已修订", "disclosure": "依申请公开"}, "文件已修订"),
        ({"status": "生效"}, "公开属性 unknown (not stated)"),
        ({"disclosure": "主动公开"}, "status unknown (not stated)"),
        ({"status": "生效", "disclosure": "内部"}, "公开属性 unknown (内部)"),
    ],
)
def test_triage(attributes, outcome):
    result = triage([_document(**attributes)])
    if outcome in ("answerable", "by_request"):
        assert len(getattr(result, outcome)) == 1 and not result.skipped
    else:
        ((skip,),) = [result.skipped]
        assert skip.reason.startswith(outcome) and not result.answerable and not result.by_request


def test_a_by_request_document_without_a_stated_title_is_not_catalogued():
    result = triage(
        [Document(doc_id="d", title="", body="正文", source="d.txt", status="生效", disclosure="依申请公开")]
    )
    assert not result.by_request and "not catalogued" in result.skipped[0].reason


def test_only_in_force_and_proactively_published_is_answerable():
    assert is_answerable("生效", "主动公开")
    assert not any(
        is_answerable(s, d) for s, d in [("", ""), ("生效", ""), ("失效", "主动公开"), ("生效", "依申请公开")]
    )
