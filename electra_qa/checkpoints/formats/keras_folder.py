"""Our own folder format: ``config.json`` + Keras ``model.weights.h5`` (+ tokenizer files), quick to reload.

``config.json`` holds the ElectraConfig fields at top level (readable as a Hugging Face-style config) and an
``electra_qa`` section with the model class, head settings, a weights index (canonical weight name -> dataset path in
the ``.weights.h5``, so that loading reads each array straight into its new variable) and, when saved from a
``QuestionAnswerer``, its pipeline settings. Folders without the index load through Keras' ``load_weights``.
Here: writing (``save_model``, ``weights_index``), reading (``open_keras_weights``, ``load_keras_folder``), and
describing (``inspect_keras_folder``).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zlib

import numpy as np

from electra_qa import filenames
from electra_qa.checkpoints.build import Fit, empty_model, load_source, validate
from electra_qa.checkpoints.info import CheckpointInfo
from electra_qa.checkpoints.readers.aligned import pread_array
from electra_qa.checkpoints.slots import model_weights
from electra_qa.checkpoints.source import Format, Source, reader_errors_named
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError
from electra_qa.files import make_folder
from electra_qa.heads import Head, saved_head
from electra_qa.precision import resolve_dtype

FORMAT_VERSION = 1
# An electra_qa folder is read through the weights index in its config.json (canonical name -> dataset path).
FORMAT = Format("keras", "electra_qa folder (Keras model.weights.h5)", lambda name: name, False, "electra/")


def _model_section(model) -> dict:
    """The ``electra_qa`` section of a saved model's config.json: format version, model class, head and options."""
    head = getattr(model, "head", None)
    if not isinstance(head, Head):
        raise CheckpointError(
            f"cannot save a {type(model).__name__}: not an electra_qa ELECTRA model "
            "(ElectraForQuestionAnswering, ElectraDiscriminator or ElectraModel)"
        )
    return {"format_version": FORMAT_VERSION, "model": head.model_class, "head": head.name, **head.options}


def save_model(model, folder: str | os.PathLike, pipeline: dict | None = None) -> str:
    """Write ``config.json`` and ``model.weights.h5`` for ``model`` into ``folder`` (created if needed)."""
    folder = make_folder(folder)
    section = _model_section(model)
    if pipeline:
        section["pipeline"] = pipeline
    data = {
        "architectures": [section["model"]],
        "model_type": "electra",
        **model.config.to_dict(),
        "electra_qa": section,
    }
    section["weights_index"] = weights_index(model.config, section)
    weights = os.path.join(folder, filenames.KERAS_WEIGHTS)
    tmp = weights + ".tmp.weights.h5"
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:  # the weights only: Keras would add a compiled model's optimizer state to the file
        model.optimizer = None
    try:
        model.save_weights(tmp)
    finally:
        if optimizer is not None:
            model.optimizer = optimizer
    section["weights_crc32"] = _checksums(tmp, section["weights_index"])
    os.replace(tmp, weights)
    with open(os.path.join(folder, filenames.CONFIG), "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    return folder


def _crc32(array: np.ndarray) -> int:
    return zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"))


def _checksums(file: str, index: dict[str, str]) -> dict[str, int]:
    """CRC-32 of each weight's bytes as written to ``file`` (HDF5 keeps no checksums of its own): a flipped bit in a
    saved folder's weights is caught on load, as the TensorFlow checkpoint reader catches it."""
    import h5py

    with h5py.File(file, "r") as f:
        return {name: _crc32(f[path][()]) for name, path in index.items()}


def weights_index(config: ElectraConfig, section: dict) -> dict[str, str]:
    """Canonical weight name (``slots.model_weights``) -> dataset path in the ``.weights.h5`` that Keras writes for
    the model that ``config`` and ``section`` describe.

    Keras names the datasets after the attribute tree (``electra/transformer_layers/electra_transformer_layer_1/
    query/vars/0``). Rather than re-deriving its rules, a tiny model of the same structure (same classes, layer
    count and head; widths 2-4) is saved with every weight filled with its own number, and the file read back.
    """
    import h5py

    project = config.embedding_size != config.hidden_size
    tiny = ElectraConfig(
        vocab_size=3,
        embedding_size=2 if project else 4,
        hidden_size=4,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=1,
        intermediate_size=3,
        max_position_embeddings=3,
        type_vocab_size=2,
    )
    probe = empty_model(tiny, _saved_head(section), dtype="float32")
    weights = model_weights(probe)
    names = list(weights)
    for number, var in enumerate(weights.values()):
        var.assign(np.full(var.shape, number, "float32"))
    index = {}
    with tempfile.TemporaryDirectory() as tmp:
        file = os.path.join(tmp, "probe.weights.h5")
        probe.save_weights(file)
        with h5py.File(file, "r") as f:

            def visit(path, obj):
                if isinstance(obj, h5py.Dataset):
                    values = np.unique(obj[()])
                    if len(values) != 1 or not 0 <= values[0] < len(names) or names[int(values[0])] in index:
                        raise RuntimeError(f"internal error: cannot index Keras weights dataset {path!r}")
                    index[names[int(values[0])]] = path

            f.visititems(visit)
    if len(index) != len(names):
        raise RuntimeError(f"internal error: {len(names)} weights but {len(index)} Keras datasets")
    return index


def read_section(folder: str) -> tuple[ElectraConfig, dict]:
    path = os.path.join(folder, filenames.CONFIG)
    if not os.path.isfile(path):
        raise CheckpointError(
            f"{folder!r} has {filenames.KERAS_WEIGHTS} but no {filenames.CONFIG}; it was not "
            "written by electra_qa's save"
        )
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise CheckpointError(f"cannot read {path!r}: {e}") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path!r} holds a JSON {type(data).__name__}, not a config object")
    section = data.get("electra_qa")
    if not isinstance(section, dict) or not isinstance(section.get("model"), str):
        raise CheckpointError(
            f"{path!r} has no 'electra_qa' section naming the model class; it was not written by electra_qa's save"
        )
    if section.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path!r} was written by a newer electra_qa (format {section['format_version']}); upgrade electra-qa"
        )
    return ElectraConfig.from_dict(data), section


def _saved_head(section: dict) -> Head:
    """The head of a saved model (``heads.saved_head``), as a CheckpointError when the section names none we know."""
    try:
        return saved_head(section)
    except ValueError as e:
        raise CheckpointError(f"cannot load the saved model: {e}") from None


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
    except (OSError, KeyError, RuntimeError) as e:
        raise CheckpointError(f"cannot read {file!r} as HDF5: {e}") from None
    return count, size


def _arrays_problem(file: str, model) -> str | None:
    """Why the weights file cannot belong to ``model`` (array count or total size differ), or None."""
    count, size = _stored_arrays(file)
    expected = sum(math.prod(w.shape) for w in model.weights)
    if (count, size) == (len(model.weights), expected):
        return None
    return (
        f"{file!r} holds {count} arrays ({size:,} values) but the model in its config.json has "
        f"{len(model.weights)} ({expected:,}); the folder's files do not belong together"
    )


def load_keras_folder(folder: str, head: Head | None = None, dtype=None, precision: str | None = None):
    """The model saved in ``folder`` by ``save_model``; strict: every stored array used, every weight set.
    ``head``: None for the saved model's own head, or an encoder-only head for its backbone alone.
    ``dtype``/``precision`` as for ``load_model``."""
    config, section = read_section(folder)
    saved = _saved_head(section)
    file = os.path.join(folder, filenames.KERAS_WEIGHTS)
    if section.get("weights_index"):
        return load_source(
            open_keras_weights(file, section["weights_index"], section.get("weights_crc32")),
            head or saved,
            config,
            dtype=dtype,
            precision=precision,
        )
    dtype = resolve_dtype(precision, dtype)
    model = empty_model(config, saved, dtype=dtype)
    problem = _arrays_problem(file, model)
    if problem:
        raise CheckpointError(problem)
    try:
        model.load_weights(file)
    except (ValueError, KeyError, OSError) as e:
        raise CheckpointError(f"{file!r} does not fit the model in its config.json: {e}") from None
    if head is not None and head != saved:  # the backbone alone: a model on the loaded backbone, no copy
        from electra_qa.models.factory import task_model

        return task_model(model.electra, head, dtype=dtype)
    return model


def inspect_keras_folder(folder: str) -> CheckpointInfo:
    config, section = read_section(folder)
    head = _saved_head(section)
    model = empty_model(config, head)
    file = os.path.join(folder, filenames.KERAS_WEIGHTS)
    problems = [p for p in [_arrays_problem(file, model)] if p]
    if not problems and section.get("weights_index"):
        try:
            source = open_keras_weights(file, section["weights_index"], section.get("weights_crc32"))
        except CheckpointError as e:
            problems = [str(e)]
        else:
            try:
                problems = validate(source, list(source.shapes))
            finally:
                source.close()
    params = sum(math.prod(w.shape) for w in model.weights)
    return CheckpointInfo(
        file,
        FORMAT.name,
        FORMAT.description,
        config,
        os.path.join(folder, filenames.CONFIG),
        head.name,
        bool(head.options.get("version_2")),
        params,
        Fit([], [], [], problems),
        [],
    )


def open_keras_weights(file: str, index: dict[str, str], checksums: dict[str, int] | None = None) -> Source:
    """A Keras 3 ``.weights.h5`` written by ``save_model``, keyed by canonical weight name through ``index``
    (canonical name -> dataset path, stored in the folder's config.json). Contiguous datasets are read straight from
    the file into new aligned arrays (``readers.aligned``). ``checksums`` (name -> CRC-32, folders written since
    round 3): each array read is checked against it."""
    if not isinstance(index, dict) or not all(isinstance(v, str) for v in index.values()):
        raise CheckpointError(f"the weights index in the config.json beside {file!r} is not a name -> path mapping")
    if checksums is not None and (
        not isinstance(checksums, dict)
        or set(checksums) != set(index)
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in checksums.values())
    ):
        raise CheckpointError(f"the weight checksums in the config.json beside {file!r} are damaged")
    return reader_errors_named(file)(_open_keras_weights)(file, index, checksums)


def _open_keras_weights(file: str, index: dict[str, str], checksums: dict[str, int] | None) -> Source:
    import h5py

    try:
        f = h5py.File(file, "r")
    except OSError as e:
        raise CheckpointError(f"cannot read {file!r} as HDF5: {e}") from None
    try:
        stored = []
        f.visititems(lambda path, obj: stored.append(path) if isinstance(obj, h5py.Dataset) else None)
        lacking = sorted(set(index.values()) - set(stored))
        extra = sorted(set(stored) - set(index.values()))
        if lacking or extra:
            raise CheckpointError(
                f"{file!r} does not match the weights index in its config.json (datasets "
                f"missing: {lacking[:5]}, not indexed: {extra[:5]}); the folder's files do not "
                "belong together"
            )
        datasets = {name: f[path] for name, path in index.items()}
        shapes = {name: tuple(d.shape) for name, d in datasets.items()}
        fd = os.open(file, os.O_RDONLY)
    except BaseException:
        f.close()
        raise

    def read(name: str) -> np.ndarray:
        d = datasets[name]
        offset = d.id.get_offset()
        if offset is None or d.chunks is not None or d.compression is not None or d.dtype.kind not in "fiub":
            array = d[()]
        else:
            array = pread_array(fd, offset, d.shape, d.dtype)  # contiguous: straight from the file, no HDF5 layer
        if checksums is not None and _crc32(array) != checksums[name]:
            raise CheckpointError(
                f"{file!r}: weight {name} does not match its checksum in config.json; the file is damaged "
                "(a changed bit); save the model again or restore the folder from a copy"
            )
        return array

    def close():
        f.close()
        os.close(fd)

    return Source(FORMAT, file, shapes, reader_errors_named(file)(read), [], close=close, new_arrays=True)
