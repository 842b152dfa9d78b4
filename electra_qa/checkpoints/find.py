"""``locate(path)``: which checkpoint a path names and where its weights are, decided once and passed down."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Literal

from electra_qa import filenames
from electra_qa.errors import CheckpointError

Kind = Literal["keras", "safetensors", "h5", "tf"]
_TF_DATA = re.compile(r"(.*)\.data-\d{5}-of-\d{5}$")


@dataclasses.dataclass(frozen=True)
class Located:
    """A checkpoint on disk: ``kind`` ("keras", "safetensors", "h5" or "tf") and ``file``, the weights file or, for
    TensorFlow checkpoints, the prefix of its ``.index``/``.data`` files."""

    kind: Kind
    file: str

    @property
    def folder(self) -> str:
        """The folder holding the weights (where config.json and tokenizer files are looked for)."""
        return os.path.dirname(self.file)


def tf_prefix_from_state(state_path: str) -> str:
    """The prefix a TensorFlow ``checkpoint`` state file names (``model_checkpoint_path``)."""
    try:
        with open(state_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError as e:
        raise CheckpointError(
            f"checkpoint state file {state_path!r} is not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint state file {state_path!r}: {e.strerror}") from None
    for line in lines:
        match = re.match(r'\s*model_checkpoint_path:\s*"(.*)"\s*$', line)
        if match:
            return _prefix_inside(state_path, match.group(1))
    raise CheckpointError(f"checkpoint state file {state_path!r} names no model_checkpoint_path")


def _inside(path: str, folder: str) -> bool:
    real = os.path.realpath(folder)
    return os.path.commonpath([os.path.realpath(path), real]) == real


def _prefix_inside(state_path: str, named: str) -> str:
    """The prefix a state file names, kept inside the state file's folder: a checkpoint (or an archive holding one)
    can never make us read files outside it. A path elsewhere (TensorFlow often records the absolute path of the
    machine that trained) means the checkpoint of that name beside the state file, if there is one."""
    folder = os.path.dirname(os.path.abspath(state_path))
    prefix = named if os.path.isabs(named) else os.path.join(folder, named)
    if _inside(prefix, folder) and _inside(prefix + ".index", folder):
        return prefix
    beside = os.path.join(folder, os.path.basename(named.rstrip("/\\")))
    if os.path.basename(beside) and os.path.isfile(beside + ".index") and _inside(beside + ".index", folder):
        return beside
    raise CheckpointError(
        f"checkpoint state file {state_path!r} names {named!r}, which is outside its folder; electra_qa reads "
        "only the checkpoint files inside it. Pass the checkpoint's prefix itself (the path before .index)"
    )


def tf_prefix_in_folder(folder: str) -> str | None:
    """The TensorFlow checkpoint in ``folder``: the one its state file names, else its only ``.index`` file."""
    state = os.path.join(folder, filenames.TF_STATE)
    if os.path.isfile(state):
        return tf_prefix_from_state(state)
    indexes = sorted(f for f in os.listdir(folder) if f.endswith(".index"))
    if len(indexes) > 1:
        raise CheckpointError(f"{folder!r} holds several checkpoints ({', '.join(indexes)}); pass one prefix")
    return os.path.join(folder, indexes[0][: -len(".index")]) if indexes else None


def _pickle_error(path: str) -> CheckpointError:
    return CheckpointError(
        f"{path!r} holds only PyTorch pickle weights, which electra_qa does not unpickle "
        "(loading a pickle can run arbitrary code). Convert them to model.safetensors "
        "(transformers: model.save_pretrained(folder, safe_serialization=True)) or "
        "download the model's safetensors/tf_model.h5 files."
    )


def _locate_folder(path: str) -> Located:
    for kind, name in (
        ("keras", filenames.KERAS_WEIGHTS),
        ("safetensors", filenames.SAFETENSORS),
        ("h5", filenames.HF_TF_WEIGHTS),
    ):
        if os.path.isfile(os.path.join(path, name)):
            return Located(kind, os.path.join(path, name))
    prefix = tf_prefix_in_folder(path)
    if prefix is not None:
        return Located("tf", prefix)
    if any(os.path.isfile(os.path.join(path, n)) for n in filenames.PYTORCH_PICKLES):
        raise _pickle_error(path)
    names = ", ".join(sorted(os.listdir(path))[:10]) or "nothing"
    raise CheckpointError(
        f"no ELECTRA checkpoint found in {path!r} (it holds {names}); expected "
        f"{filenames.KERAS_WEIGHTS}, {filenames.SAFETENSORS}, {filenames.HF_TF_WEIGHTS}, or a "
        "TensorFlow checkpoint (.index/.data files)"
    )


def locate(path: str | os.PathLike) -> Located:
    """The checkpoint that ``path`` names: a folder of any supported format, or the weights file itself."""
    if not isinstance(path, (str, os.PathLike)):
        raise CheckpointError(f"a checkpoint path must be a string or path, got {type(path).__name__}")
    path = os.fspath(path)
    if os.path.isdir(path):
        return _locate_folder(path)
    for suffix, kind in ((".weights.h5", "keras"), (".safetensors", "safetensors"), (".h5", "h5")):
        if path.endswith(suffix) and os.path.isfile(path):
            return Located(kind, path)
    if path.endswith((".bin", ".pt", ".pth")):
        raise CheckpointError(
            f"{path!r} is a PyTorch pickle file, which electra_qa does not unpickle (that can run "
            "arbitrary code); convert it to model.safetensors"
        )
    if os.path.basename(path) == filenames.TF_STATE and os.path.isfile(path):
        return Located("tf", tf_prefix_from_state(path))
    if path.endswith(".index"):
        return Located("tf", path[: -len(".index")])
    match = _TF_DATA.match(path)
    if match:
        return Located("tf", match.group(1))
    if os.path.isfile(path + ".index"):
        return Located("tf", path)
    raise CheckpointError(
        f"no checkpoint at {path!r}: expected a folder, a .safetensors/.h5/.weights.h5 file, a "
        "TensorFlow 'checkpoint' state file, or a prefix with a .index file beside it"
    )
