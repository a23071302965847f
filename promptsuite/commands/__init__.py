"""The ``promptsuite optimize`` and ``promptsuite finetune`` commands.

They sit above both the optimizer and the fine-tune (``cli.py`` registers them), so one
may read the other's record through its public reader: ``promptsuite optimize
--finetune-record`` reads a fine-tune record with :func:`promptsuite.finetune.read_finetune_record`.
"""

from promptsuite.commands._finetune import add_parser as add_finetune_command
from promptsuite.commands._optimize import add_parser as add_optimize_command

__all__ = ["add_finetune_command", "add_optimize_command"]
