"""The rows a fine-tune learns from: the train split's reference answers, in chat form.

Where a case has no reference of its own, the sampling stage's best passing reply is used
(rejection sampling: the model's own replies that passed the case's checks).

The split is the optimizer's own (:func:`promptsuite.optimize.search.split_cases`, same seed
and shares, or the split an optimization run recorded), so the fine-tuned model and the best
prompt are judged on the same held-out test cases. Train rows are what the model learns,
validation rows decide when to stop, and test cases never reach the trainer.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promptsuite.errors import ConfigError, PromptsuiteError
from promptsuite.optimize import own_references
from promptsuite.optimize.search import DEFAULT_FRACTIONS, split_cases
from promptsuite.references import Reference
from promptsuite.suite import Suite
from promptsuite.template import render_messages

__all__ = ["Rows", "chat_rows", "subsample"]

Chat = list[dict[str, Any]]


@dataclass(frozen=True)
class Rows:
    """The labelled rows of one suite, by split.

    Attributes:
        train: Chat examples to learn from (the last message is the reference answer).
        val: Chat examples for early stopping.
        train_ids: Case id of each train row, in order.
        val_ids: Case id of each validation row.
        test_ids: The held-out test cases (never given to the trainer).
        split: Case id -> ``train`` / ``val`` / ``test``.
        missing: Train/validation case id -> why it has no reference answer.
        variant: The prompt variant rendered.
        sources: Where the rows' answers came from -> how many (``stated``, ``derived``,
            ``sampled``, ``teacher``, ``labelled``).
    """

    train: list[Chat]
    val: list[Chat]
    train_ids: list[str]
    val_ids: list[str]
    test_ids: list[str]
    split: dict[str, str]
    missing: dict[str, str] = field(default_factory=dict)
    variant: str = "default"
    sources: dict[str, int] = field(default_factory=dict)


def chat_rows(
    suite: Suite,
    *,
    seed: int = 0,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    split: Mapping[str, str] | None = None,
    variant: str | None = None,
    extra: Mapping[str, Reference] | None = None,
) -> Rows:
    """Render every train and validation case that has a reference answer.

    A case's own reference (stated, or derived from its checks) comes first; ``extra``
    (the sampling stage's best passing replies of train cases, person-labelled outputs)
    fills in where it has none: rejection-sampling fine-tuning for open-ended suites.

    Args:
        suite: The suite.
        seed: Seed of the split (the optimizer's ``--seed``).
        fractions: Train, validation and test shares (the optimizer's ``--split``).
        split: A recorded split (an optimization run's); overrides ``seed``/``fractions``.
        variant: Prompt variant to render; the prompt's default when None.
        extra: More references, by case id, for cases the suite gives none.

    Raises:
        ConfigError: The variant is unknown, or no train case has a reference answer.
    """
    name = variant or suite.prompt.default
    if name not in suite.prompt.variants:
        known = ", ".join(suite.prompt.variants)
        raise ConfigError(f"prompt variant {name!r} is not in {suite.path}; known: {known}")
    templates = suite.prompt.variants[name].templates
    assigned = (
        dict(split)
        if split is not None
        else split_cases(suite.cases, seed=seed, fractions=fractions)
    )
    labelled = [case for case in suite.cases if assigned.get(case.id, "train") != "test"]
    references, missing = own_references(suite, labelled)
    for case_id, found in (extra or {}).items():
        if case_id in missing:
            references[case_id] = found
            del missing[case_id]
    sources: Counter[str] = Counter()
    rows: dict[str, tuple[list[Chat], list[str]]] = {"train": ([], []), "val": ([], [])}
    for case in labelled:
        reference = references.get(case.id)
        if reference is None:
            continue
        try:
            messages = render_messages(templates, case.vars)
        except PromptsuiteError as exc:
            missing[case.id] = f"its template does not render: {exc}"
            continue
        chat = chat_example([m.to_dict() for m in messages], reference.output)
        examples, ids = rows["val" if assigned.get(case.id) == "val" else "train"]
        examples.append(chat)
        ids.append(case.id)
        sources[reference.source] += 1
    if not rows["train"][0]:
        raise ConfigError(
            f"{suite.path}: no train case has a reference answer, so there is nothing to "
            "fine-tune on; state `reference:` on cases (or add checks that pin the answer, "
            "such as equals), or sample them (--samples, --teacher)"
        )
    return Rows(
        train=rows["train"][0],
        val=rows["val"][0],
        train_ids=rows["train"][1],
        val_ids=rows["val"][1],
        test_ids=[case.id for case in suite.cases if assigned.get(case.id) == "test"],
        split={case.id: assigned.get(case.id, "train") for case in suite.cases},
        missing=missing,
        variant=name,
        sources=dict(sorted(sources.items())),
    )


def chat_example(messages: Sequence[Mapping[str, str]], answer: str) -> Chat:
    """The rendered messages (empty ones dropped) followed by the answer to learn."""
    chat: Chat = [
        {"role": m["role"], "content": m["content"]} for m in messages if m["content"].strip()
    ]
    chat.append({"role": "assistant", "content": answer})
    return chat


def subsample(rows: Rows, fraction: float, seed: int) -> Rows:
    """A seeded share of the train rows (at least one), for the learning curve.

    Raises:
        ValueError: ``fraction`` is not in (0, 1].
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    count = max(1, round(len(rows.train) * fraction))
    order = list(range(len(rows.train)))
    random.Random(f"promptsuite-finetune:{seed}").shuffle(order)
    keep = sorted(order[:count])
    return Rows(
        train=[rows.train[i] for i in keep],
        val=rows.val,
        train_ids=[rows.train_ids[i] for i in keep],
        val_ids=rows.val_ids,
        test_ids=rows.test_ids,
        split=rows.split,
        missing=rows.missing,
        variant=rows.variant,
    )
