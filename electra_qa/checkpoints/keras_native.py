"""Our own folder format: ``config.json`` + Keras ``model.weights.h5`` (+ tokenizer files), quick to reload.

``config.json`` holds the ElectraConfig fields at top level (readable as a Hugging Face-style config) and an
``electra_qa`` section with the model class, head settings and, when saved from a ``QuestionAnswerer``, its
pipeline settings.
"""

from __future__ import annotations

import json
import math
import os

from electra_qa.checkpoints.assign import Fit
from electra_qa.checkpoints.loader import CONFIG_FILE, KERAS_WEIGHTS, CheckpointInfo, _build
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError

FORMAT_VERSION = 1
_CLASSES = ("ElectraForQuestionAnswering", "ElectraDiscriminator", "ElectraModel")


def _model_section(model) -> dict:
    cls = type(model).__name__
    if cls not in _CLASSES:
        raise CheckpointError(f"cannot save a {cls}; expected one of {_CLASSES}")
    section = {"format_version": FORMAT_VERSION, "model": cls}
    if cls == "ElectraForQuestionAnswering":
        section.update(head=model.head_type, beam_size=model.beam_size, version_2=model.version_2, amp=model.amp)
    return section


def save_model(model, folder: str | os.PathLike, pipeline: dict | None = None) -> str:
    """Write ``config.json`` and ``model.weights.h5`` for ``model`` into ``folder`` (created if needed)."""
    folder = os.fspath(folder)
    os.makedirs(folder, exist_ok=True)
    section = _model_section(model)
    if pipeline:
        section["pipeline"] = pipeline
    data = {"architectures": [section["model"]], "model_type": "electra", **model.config.to_dict(),
            "electra_qa": section}
    weights = os.path.join(folder, KERAS_WEIGHTS)
    tmp = weights + ".tmp.weights.h5"
    model.save_weights(tmp)
    os.replace(tmp, weights)
    with open(os.path.join(folder, CONFIG_FILE), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    return folder


def read_section(folder: str) -> tuple[ElectraConfig, dict]:
    path = os.path.join(folder, CONFIG_FILE)
    if not os.path.isfile(path):
        raise CheckpointError(f"{folder!r} has {KERAS_WEIGHTS} but no {CONFIG_FILE}; it was not written by "
                              "electra_qa's save")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"cannot read {path!r}: {e}") from None
    section = data.get("electra_qa")
    if not isinstance(section, dict) or section.get("model") not in _CLASSES:
        raise CheckpointError(f"{path!r} has no 'electra_qa' section naming the model class; it was not written by "
                              "electra_qa's save")
    if section.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path!r} was written by a newer electra_qa (format {section['format_version']}); "
                              "upgrade electra-qa")
    return ElectraConfig.from_dict(data), section


def _head(section: dict) -> str:
    """The loader's head name for a saved model class."""
    if section["model"] == "ElectraForQuestionAnswering":
        return section["head"]
    return "discriminator" if section["model"] == "ElectraDiscriminator" else "encoder"


def _build_saved(config, section, dtype):
    return _build(config, _head(section), section.get("version_2", False), section.get("beam_size", 4),
                  section.get("amp", True), dtype)


def _stored_arrays(file: str) -> tuple[int, int]:
    """(number of arrays, number of values) in a Keras weights file."""
    import h5py

    count, size = 0, 0

    def visit(_, obj):
        nonlocal count, size
        if isinstance(obj, h5py.Dataset):
            count += 1
            size += obj.size

    try:
        with h5py.File(file, "r") as f:
            f.visititems(visit)
    except OSError as e:
        raise CheckpointError(f"cannot read {file!r} as HDF5: {e}") from None
    return count, size


def _arrays_problem(file: str, model) -> str | None:
    """Why the weights file cannot belong to ``model`` (array count or total size differ), or None."""
    count, size = _stored_arrays(file)
    expected = sum(math.prod(w.shape) for w in model.weights)
    if (count, size) == (len(model.weights), expected):
        return None
    return (f"{file!r} holds {count} arrays ({size:,} values) but the model in its config.json has "
            f"{len(model.weights)} ({expected:,}); the folder's files do not belong together")


def load_keras_folder(folder: str, head: str = "auto", dtype=None):
    """The model saved in ``folder`` by ``save_model``; strict: every stored array used, every weight set."""
    config, section = read_section(folder)
    model = _build_saved(config, section, dtype)
    file = os.path.join(folder, KERAS_WEIGHTS)
    problem = _arrays_problem(file, model)
    if problem:
        raise CheckpointError(problem)
    try:
        model.load_weights(file)
    except (ValueError, KeyError, OSError) as e:
        raise CheckpointError(f"{file!r} does not fit the model in its config.json: {e}") from None
    if head == "encoder" and section["model"] != "ElectraModel":
        from electra_qa.checkpoints.layout import model_weights
        encoder = _build(config, "encoder", False, 4, True, dtype)
        loaded = model_weights(model)
        for name, var in model_weights(encoder).items():
            var.assign(loaded[name])
        return encoder
    return model


def inspect_keras_folder(folder: str) -> CheckpointInfo:
    config, section = read_section(folder)
    model = _build_saved(config, section, None)
    file = os.path.join(folder, KERAS_WEIGHTS)
    problem = _arrays_problem(file, model)
    params = sum(math.prod(w.shape) for w in model.weights)
    return CheckpointInfo(file, "keras", "electra_qa folder (Keras model.weights.h5)", config,
                          os.path.join(folder, CONFIG_FILE), _head(section), bool(section.get("version_2", False)),
                          params, Fit([], [], [problem] if problem else []), [])
