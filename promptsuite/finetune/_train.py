"""LoRA training on CPU with transformers and peft, from the GGUF file itself.

transformers reads the GGUF (dequantized to float32, Q/K rows back in HF order), peft adds
LoRA matrices, and a plain seeded loop trains them with the loss on the reply's tokens only
(the prompt and the template's few-shot turns are context, never targets). The validation
rows decide when to stop: after each epoch the validation loss is measured and the best
epoch's LoRA weights are kept; training stops when it has not improved (by more than
``min_delta``) for ``patience`` epochs, or when the step or time budget runs out. Imported
only by ``promptsuite finetune``.
"""

from __future__ import annotations

import math
import os
import random
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from promptsuite.finetune._config import EarlyStop, TrainConfig
from promptsuite.finetune._data import Chat
from promptsuite.finetune._deps import require
from promptsuite.finetune._gguf import write_lora_gguf
from promptsuite.finetune._record import Training
from promptsuite.models.local import auto_threads
from promptsuite.optimize import Say

__all__ = [
    "Base",
    "TrainOutcome",
    "generate",
    "load_base",
    "load_tokenizer",
    "lora_pairs",
    "release",
    "train_lora",
]

#: Model types whose HF -> GGUF conversion permutes the Q/K rows (llama.cpp's converter).
_PERMUTED = frozenset({"llama", "mistral"})


@dataclass
class Base:
    """The base model loaded by transformers, and what loading it cost."""

    tokenizer: Any
    model: Any
    path: Path
    load_s: float


@dataclass
class TrainOutcome:
    """What one training run did.

    Attributes:
        training: What the record keeps of it.
        model: The trained peft model (for the agreement check; not persisted; None once
            :func:`release` took the LoRA layers off).
    """

    training: Training
    model: Any = None


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_tokenizer(path: Path) -> Any:
    """The tokenizer (and chat template) of a GGUF file, through transformers.

    Raises:
        MissingDependency: transformers or gguf is not installed.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    require("gguf")
    transformers = require("transformers")
    return transformers.AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)


def load_base(path: Path, threads: int | None = None) -> Base:
    """Load a GGUF model with transformers (float32 on CPU).

    Args:
        path: The GGUF file.
        threads: CPU threads torch uses; None: two when a core is free, else one (as the
            local provider decides, :func:`promptsuite.models.local.auto_threads`).

    Raises:
        MissingDependency: torch, transformers or gguf is not installed.
    """
    # Everything comes from the GGUF file: never ask a model hub for anything.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    if "torch" not in sys.modules:
        # torch's OpenMP threads spin while they wait for each other; on a machine where
        # other processes hold the cores that slows every step several times over (the same
        # effect promptsuite.models.local avoids for llama.cpp). libgomp reads it at load.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = require("torch")
    require("gguf")
    transformers = require("transformers")
    # Its per-tensor progress bars would drown the step lines.
    transformers.utils.logging.disable_progress_bar()
    torch.set_num_threads(threads or auto_threads())
    started = time.perf_counter()
    tokenizer = load_tokenizer(path)
    model = transformers.AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    model.eval()
    return Base(tokenizer, model, path, time.perf_counter() - started)


def encode(tokenizer: Any, chat: Chat, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids of a chat and its labels: -100 everywhere but the last reply.

    The reply is what the chat template puts after the generation prompt (the answer and
    the end-of-turn token), so the model learns to stop where llama.cpp stops.
    """
    messages = [{"role": m["role"], "content": m["content"]} for m in chat]
    prompt = tokenizer.apply_chat_template(
        messages[:-1], add_generation_prompt=True, tokenize=False
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    reply = full[len(prompt) :] if full.startswith(prompt) else messages[-1]["content"]
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    reply_ids = tokenizer(reply, add_special_tokens=False)["input_ids"]
    prompt_ids = prompt_ids[-max(1, max_length - len(reply_ids)) :]
    return prompt_ids + reply_ids, [-100] * len(prompt_ids) + reply_ids


def _batch(torch: Any, encoded: Sequence[tuple[list[int], list[int]]], pad: int) -> dict[str, Any]:
    width = max(len(ids) for ids, _ in encoded)
    ids = [row + [pad] * (width - len(row)) for row, _ in encoded]
    labels = [lab + [-100] * (width - len(lab)) for _, lab in encoded]
    mask = [[1] * len(row) + [0] * (width - len(row)) for row, _ in encoded]
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }


def _loss(torch: Any, model: Any, batch: Mapping[str, Any]) -> Any:
    """Mean cross-entropy over the reply tokens, computing logits only where they are needed.

    The vocabulary projection is a fifth of the model's work per token; prompts are most of
    each row, so the logits are asked for (``logits_to_keep``) only at the positions that
    predict a reply token.
    """
    labels = batch["labels"]
    targets = labels[:, 1:]
    keep = (targets != -100).any(dim=0).nonzero().flatten()
    logits = model(
        input_ids=batch["input_ids"],
        attention_mask=batch["attention_mask"],
        logits_to_keep=keep,
    ).logits
    chosen = targets[:, keep]
    return torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]).float(), chosen.reshape(-1), ignore_index=-100
    )


def _val_loss(torch: Any, model: Any, rows: Sequence[Any], batch_size: int, pad: int) -> float:
    total = weight = 0.0
    model.eval()
    with torch.no_grad():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            tokens = sum(sum(1 for x in lab[1:] if x != -100) for _, lab in chunk)
            loss = _loss(torch, model, _batch(torch, chunk, pad))
            total += float(loss) * tokens
            weight += tokens
    model.train()
    return total / weight if weight else math.nan


def train_lora(
    base: Base,
    train: Sequence[Chat],
    val: Sequence[Chat],
    config: TrainConfig,
    adapter_path: Path,
    *,
    say: Say,
) -> TrainOutcome:
    """Train a LoRA on ``train``, stop early on ``val``, write the GGUF adapter.

    The base model is left as it was (the LoRA layers are removed afterwards), so one
    loaded base serves several trainings (the learning curve).

    Raises:
        MissingDependency: torch or peft is not installed.
    """
    torch = require("torch")
    peft = require("peft")
    config = config.resolved(len(val))
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    tokenizer = base.tokenizer
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = [encode(tokenizer, chat, config.max_length) for chat in train]
    val_rows = [encode(tokenizer, chat, config.max_length) for chat in val]
    lora = peft.LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=0.0,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    model = peft.get_peft_model(base.model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    per_epoch = math.ceil(len(rows) / config.batch_size)
    planned = per_epoch * config.epoch_count
    if config.max_steps is not None:
        planned = min(planned, config.max_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: max(0.0, 1.0 - step / max(1, planned))
    )
    order_rng = random.Random(f"promptsuite-finetune-order:{config.seed}")
    losses: list[float] = []
    val_losses: list[tuple[int, float]] = []
    best_state: dict[str, Any] | None = None
    stop = EarlyStop(config.patience, config.min_delta)
    best_step = 0
    stopped = "epochs"
    tokens = 0
    started = time.perf_counter()
    step = 0
    for _epoch in range(config.epoch_count):
        order = list(range(len(rows)))
        order_rng.shuffle(order)
        for start in range(0, len(order), config.batch_size):
            elapsed = time.perf_counter() - started
            step_s = elapsed / step if step else 0.0
            if step >= planned:
                stopped = "max-steps"
                break
            if step and elapsed + step_s > config.max_seconds:
                stopped = "time"
                break
            chunk = [rows[i] for i in order[start : start + config.batch_size]]
            batch = _batch(torch, chunk, pad)
            loss = _loss(torch, model, batch)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            tokens += int(batch["attention_mask"].sum())
            losses.append(round(float(loss.detach()), 5))
            elapsed = time.perf_counter() - started
            left = (planned - step) * elapsed / step
            say(
                f"  step {step:>4}/{planned}  loss {losses[-1]:.4f}  "
                f"{elapsed / step:.1f} s/step  ~{_duration(left)} left"
            )
        else:
            if val_rows:
                current = round(_val_loss(torch, model, val_rows, config.batch_size, pad), 5)
                val_losses.append((step, current))
                say(f"  epoch {_epoch + 1}: validation loss {current:.4f} (step {step})")
                if stop.better(current):
                    best_step = step
                    best_state = {
                        k: v.detach().clone() for k, v in model.state_dict().items() if "lora_" in k
                    }
                elif stop.done:
                    stopped = "early-stopping"
                    break
            continue
        break
    if val_rows and (not val_losses or val_losses[-1][0] != step):
        current = round(_val_loss(torch, model, val_rows, config.batch_size, pad), 5)
        val_losses.append((step, current))
        if stop.better(current):
            best_step, best_state = step, None
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    elif not val_rows:
        best_step = step
    train_s = time.perf_counter() - started
    model.eval()
    pairs = lora_pairs(model)
    cfg = base.model.config
    adapter_path.parent.mkdir(parents=True, exist_ok=True)
    adapted = write_lora_gguf(
        adapter_path,
        pairs,
        alpha=config.alpha,
        n_head=int(cfg.num_attention_heads),
        n_head_kv=int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads),
        architecture=str(cfg.model_type),
        permute=str(cfg.model_type) in _PERMUTED,
    )
    training = Training(
        steps=step,
        planned_steps=planned,
        losses=losses,
        val_losses=val_losses,
        best_step=best_step,
        stopped=stopped,
        train_s=round(train_s, 3),
        step_s=round(train_s / step, 3) if step else 0.0,
        train_tokens=tokens,
        target_tokens=sum(sum(1 for x in lab if x != -100) for _, lab in rows),
        trainable_params=sum(p.numel() for p in params),
        adapter_path=str(adapter_path),
        adapted=adapted,
        peak_rss_mb=round(peak_rss_mb(), 1),
    )
    return TrainOutcome(training, model)


def lora_pairs(model: Any) -> dict[str, tuple[Any, Any]]:
    """Module name -> (lora_A, lora_B) weights as numpy arrays, of a peft model."""
    pairs: dict[str, tuple[Any, Any]] = {}
    for name, module in model.named_modules():
        lora_a = getattr(module, "lora_A", None)
        if lora_a is None or "default" not in lora_a:
            continue
        pairs[name] = (
            lora_a["default"].weight.detach().float().numpy(),
            module.lora_B["default"].weight.detach().float().numpy(),
        )
    return pairs


def release(outcome: TrainOutcome) -> Any:
    """Remove the LoRA layers from the base model (returns the plain base model)."""
    model = outcome.model
    outcome.model = None
    return model.unload()


def generate(base: Base, model: Any, chats: Sequence[Chat], max_tokens: int) -> list[str]:
    """Greedy replies of ``model`` to each chat's messages (the training stack's outputs)."""
    torch = require("torch")
    tokenizer = base.tokenizer
    replies = []
    with torch.no_grad():
        for chat in chats:
            messages = [{"role": m["role"], "content": m["content"]} for m in chat]
            prompt = tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
            replies.append(tokenizer.decode(out[0][ids.shape[1] :], skip_special_tokens=True))
    return replies


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
