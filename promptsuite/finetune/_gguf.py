"""A LoRA adapter as a GGUF file that llama.cpp loads beside the base model.

The layout is the one llama.cpp's ``convert_lora_to_gguf.py`` writes: ``general.type`` =
``adapter``, ``adapter.type`` = ``lora``, ``adapter.lora.alpha``, and for every adapted
matrix a pair ``blk.N.<tensor>.weight.lora_a`` ([rank, in] rows) and ``.lora_b`` ([out,
rank]). For llama models the HF -> GGUF converter permutes the rows of ``q_proj`` and
``k_proj`` (its rotary layout); transformers un-permutes them when it loads a GGUF, so the
adapter's ``lora_b`` of those two gets the same permutation back here. Needs only ``gguf``
and numpy, not torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptsuite.errors import ConfigError
from promptsuite.finetune._deps import require

__all__ = ["gguf_tensor_name", "permute_rows", "write_lora_gguf"]

#: HF module name (inside ``model.layers.N.``) -> llama.cpp tensor name (inside ``blk.N.``).
_TENSORS = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.(.+)$")


def gguf_tensor_name(module: str) -> str:
    """``...model.layers.3.self_attn.q_proj`` -> ``blk.3.attn_q.weight``.

    Raises:
        ConfigError: The module is not one llama.cpp names (an adapter on it cannot load).
    """
    match = _LAYER.search(module)
    if match is None or match.group(2) not in _TENSORS:
        raise ConfigError(
            f"cannot write a LoRA on {module!r} into GGUF: only the attention and MLP "
            f"projections of llama blocks are supported ({', '.join(_TENSORS)})"
        )
    return f"blk.{match.group(1)}.{_TENSORS[match.group(2)]}.weight"


def permute_rows(weights: Any, n_head: int) -> Any:
    """llama.cpp's rotary row order of a Q or K matrix (``convert_hf_to_gguf.py`` permute)."""
    rows = weights.shape[0]
    return (
        weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_lora_gguf(
    path: Path,
    pairs: Mapping[str, tuple[Any, Any]],
    *,
    alpha: float,
    n_head: int,
    n_head_kv: int,
    architecture: str = "llama",
    permute: bool = True,
) -> int:
    """Write the adapter; returns the number of adapted matrices.

    Args:
        path: The ``.gguf`` file to write.
        pairs: HF module name -> (``lora_A`` [rank, in], ``lora_B`` [out, rank]) as float
            numpy arrays.
        alpha: LoRA alpha (llama.cpp scales by alpha / rank, as peft does).
        n_head: Attention heads (for the Q permutation).
        n_head_kv: Key/value heads (for the K permutation).
        architecture: The base model's ``general.architecture``.
        permute: Permute Q/K rows as llama.cpp's converter does for llama models.

    Raises:
        MissingDependency: ``gguf`` is not installed.
        ConfigError: A module has no llama.cpp name.
    """
    gguf = require("gguf")
    import numpy as np

    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for module, (lora_a, lora_b) in sorted(pairs.items()):
        name = gguf_tensor_name(module)
        b = np.asarray(lora_b, dtype=np.float32)
        if permute and ".attn_q." in name:
            b = permute_rows(b, n_head)
        elif permute and ".attn_k." in name:
            b = permute_rows(b, n_head_kv)
        writer.add_tensor(f"{name}.lora_a", np.ascontiguousarray(lora_a, dtype=np.float32))
        writer.add_tensor(f"{name}.lora_b", np.ascontiguousarray(b))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)
