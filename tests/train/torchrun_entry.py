"""`contrastlab` under torchrun, with one rank killed mid-run (the restart test's fault).

``torchrun ... torchrun_entry.py train ...`` runs the real CLI. When KILL_AT_STEP is set, the rank
named by KILL_RANK sends itself SIGKILL as it is about to take that optimiser step, on torchrun's
first attempt only (TORCHELASTIC_RESTART_COUNT 0), so the restarted workers run to the end.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from contrastlab.cli import main
from contrastlab.train.trainer import Trainer


def _install_fault() -> None:
    step = int(os.environ.get("KILL_AT_STEP", "-1"))
    rank = int(os.environ.get("KILL_RANK", "1"))
    first_attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") == "0"
    if step < 0 or not first_attempt or int(os.environ.get("RANK", "0")) != rank:
        return
    train_step = Trainer._train_step

    def dying_step(self: Trainer, rows: Any) -> dict[str, float]:
        if self.step == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return train_step(self, rows)

    Trainer._train_step = dying_step  # type: ignore[method-assign]


if __name__ == "__main__":
    _install_fault()
    sys.exit(main(sys.argv[1:]))
