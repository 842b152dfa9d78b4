"""``CheckpointInfo``: what ``inspect_checkpoint`` reports about a checkpoint without loading its tensors."""

from __future__ import annotations

import dataclasses

from electra_qa import display
from electra_qa.checkpoints.build import Fit
from electra_qa.config import ElectraConfig


@dataclasses.dataclass(repr=False)
class CheckpointInfo:
    """What ``inspect_checkpoint`` finds; ``fit.ok`` says whether ``load_model`` would succeed. Shown as the CLI's
    text in a terminal (``repr``) and as a table in a notebook."""

    path: str
    format: str
    description: str
    config: ElectraConfig
    config_source: str
    head: str
    version_2: bool
    parameters: int
    fit: Fit
    unused: list[str]

    def __repr__(self) -> str:
        return self.summary()

    def _facts(self) -> list[tuple[str, str]]:
        """The (label, value) pairs both displays start with, and whether it loads."""
        return [
            ("path", self.path),
            ("format", f"{self.format} ({self.description})"),
            ("head", self.head + (" (SQuAD 2.0 answer-class pooler)" if self.version_2 else "")),
            ("parameters", f"{self.parameters:,}"),
            ("config", self.config_source),
        ]

    def _loads(self) -> str:
        return "yes" if self.fit.ok else "NO: " + self.fit.problems()

    def _repr_html_(self) -> str:
        rows = [list(fact) for fact in self._facts()]
        rows += [[f"  {k}", v] for k, v in self.config.to_dict().items()]
        rows.append(["loads", self._loads()])
        rows.append(
            [
                "unused keys",
                ", ".join(self.unused[:20]) + (f" ... ({len(self.unused) - 20} more)" if len(self.unused) > 20 else "")
                or "none",
            ]
        )
        return display.table_html(["", "checkpoint"], rows)

    def summary(self) -> str:
        lines = [f"{label + ':':<13}{value}" for label, value in self._facts()]
        lines += [f"  {k} = {v}" for k, v in self.config.to_dict().items()]
        lines.append(f"{'loads:':<13}{self._loads()}")
        lines.append(
            f"unused keys: {len(self.unused)}" + (" (optimizer state, generator, pooler, ...)" if self.unused else "")
        )
        lines += [f"  {k}" for k in self.unused[:20]]
        if len(self.unused) > 20:
            lines.append(f"  ... ({len(self.unused) - 20} more)")
        return "\n".join(lines)
