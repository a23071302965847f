"""The GGUF adapter: llama.cpp's tensor names, the Q/K row order, a file gguf reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from promptsuite.errors import ConfigError
from promptsuite.finetune import gguf_tensor_name, permute_rows, write_lora_gguf


def test_hf_modules_get_llama_cpp_names() -> None:
    assert gguf_tensor_name("base_model.model.model.layers.3.self_attn.q_proj") == (
        "blk.3.attn_q.weight"
    )
    assert gguf_tensor_name("model.layers.12.mlp.down_proj") == "blk.12.ffn_down.weight"
    with pytest.raises(ConfigError, match="lm_head"):
        gguf_tensor_name("lm_head")


def test_permutation_undoes_transformers_gguf_unpermute() -> None:
    # transformers' reverse permute of a llama Q/K matrix read from GGUF
    # (modeling_gguf_pytorch_utils.LlamaTensorProcessor), written out independently.
    def unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
        dim = w.shape[0] // n_head // 2
        return w.reshape(n_head, dim, 2, *w.shape[1:]).swapaxes(2, 1).reshape(w.shape)

    rng = np.random.default_rng(0)
    weights = rng.normal(size=(3 * 2 * 4, 5))
    assert np.array_equal(unpermute(permute_rows(weights, 3), 3), weights)
    assert not np.array_equal(permute_rows(weights, 3), weights)


def test_the_adapter_file_reads_back_with_llama_cpp_keys(tmp_path: Path) -> None:
    from gguf import GGUFReader

    rng = np.random.default_rng(1)
    a_q, b_q = rng.normal(size=(2, 6)), rng.normal(size=(12, 2))
    a_v, b_v = rng.normal(size=(2, 6)), rng.normal(size=(4, 2))
    path = tmp_path / "adapter.gguf"
    count = write_lora_gguf(
        path,
        {
            "model.layers.0.self_attn.q_proj": (a_q, b_q),
            "model.layers.0.self_attn.v_proj": (a_v, b_v),
        },
        alpha=4.0,
        n_head=3,
        n_head_kv=1,
    )
    reader = GGUFReader(str(path))
    fields = {name: reader.fields[name] for name in reader.fields}
    assert bytes(fields["general.type"].parts[-1]).decode() == "adapter"
    assert bytes(fields["adapter.type"].parts[-1]).decode() == "lora"
    assert float(fields["adapter.lora.alpha"].parts[-1][0]) == 4.0
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert count == 2 and sorted(tensors) == [
        "blk.0.attn_q.weight.lora_a",
        "blk.0.attn_q.weight.lora_b",
        "blk.0.attn_v.weight.lora_a",
        "blk.0.attn_v.weight.lora_b",
    ]
    assert np.allclose(tensors["blk.0.attn_q.weight.lora_a"], a_q)
    assert np.allclose(tensors["blk.0.attn_q.weight.lora_b"], permute_rows(b_q, 3))
    assert np.allclose(tensors["blk.0.attn_v.weight.lora_b"], b_v)
