"""Strict model building shared by every format: all weights or an error, never a partial model.

``load_source`` builds the model for an opened ``Source``: ``build_from_checkpoint`` creates its variables straight
from the stored arrays (copied ahead by a ``prefetch.Prefetcher``): one host copy per weight (two for a kernel stored
transposed), no zero-filled model overwritten afterwards. ``check_fit`` compares keys and shapes for
``inspect_checkpoint``; both read the key difference from ``key_difference``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Mapping

import numpy as np

from electra_qa.checkpoints.prefetch import Prefetcher, checked_weight
from electra_qa.checkpoints.readers.dtypes import numpy_dtype
from electra_qa.checkpoints.slots import keyed_slots
from electra_qa.checkpoints.source import Source
from electra_qa.config import ElectraConfig
from electra_qa.errors import CheckpointError
from electra_qa.heads import Head
from electra_qa.precision import resolve_dtype

_MAX_LISTED = 12


def _listing(items) -> str:
    items = sorted(items)
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f", ... ({len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


@dataclasses.dataclass
class Fit:
    """How a checkpoint's keys meet a model's variables."""

    missing: list[str]  # the model needs them, the checkpoint lacks them
    unexpected: list[str]  # model-weight keys in the checkpoint that the model has no place for
    mismatched: list[str]  # "key: checkpoint shape, model shape"
    errors: list[str] = dataclasses.field(default_factory=list)  # unreadable or corrupt data (``validate``)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched or self.errors)

    def problems(self) -> str:
        parts = list(self.errors)
        if self.missing:
            parts.append(f"missing from the checkpoint ({len(self.missing)}): {_listing(self.missing)}")
        if self.unexpected:
            parts.append(
                f"in the checkpoint but not in the model ({len(self.unexpected)}): {_listing(self.unexpected)}"
            )
        if self.mismatched:
            parts.append(f"shape mismatch ({len(self.mismatched)}): {_listing(self.mismatched)}")
        return "; ".join(parts)


def key_difference(wanted: Mapping, stored: Mapping) -> tuple[list[str], list[str]]:
    """The keys the model wants that are not stored (missing), and the stored keys it has no place for
    (unexpected), each sorted."""
    return sorted(k for k in wanted if k not in stored), sorted(k for k in stored if k not in wanted)


def check_fit(
    variables: Mapping[str, object], shapes: Mapping[str, tuple], transposed: frozenset | set = frozenset()
) -> Fit:
    """Compare checkpoint keys/shapes with ``variables`` (checkpoint key -> variable); ``transposed`` keys are
    stored with their two axes swapped."""
    missing, unexpected = key_difference(variables, shapes)
    mismatched = []
    for key, var in variables.items():
        problem = _shape_mismatch(key, shapes[key], var.shape, key in transposed) if key in shapes else None
        if problem:
            mismatched.append(problem)
    return Fit(missing, unexpected, mismatched)


def _shape_mismatch(key: str, stored, model_shape, transposed: bool) -> str | None:
    """``"key: checkpoint (..), model (..)"`` when the stored array (axes swapped if ``transposed``) does not fit."""
    stored, model_shape = tuple(stored), tuple(model_shape)
    if (stored[::-1] if transposed else stored) == model_shape:
        return None
    return f"{key}: checkpoint {stored}, model {model_shape}" + (" (stored transposed)" if transposed else "")


class _StoredValue:
    """Keras initializer that returns the checkpoint's array for ``key``; a shape mismatch is recorded (and zeros
    returned) so that ``build_from_checkpoint`` can name every mismatch at once."""

    def __init__(self, key: str, stored_shape: tuple, transposed: bool, prefetcher: Prefetcher, mismatched: list):
        self.key, self.stored_shape, self.transposed = key, tuple(stored_shape), transposed
        self.prefetcher, self.mismatched = prefetcher, mismatched
        self.used = False

    def __call__(self, shape, dtype=None):
        problem = _shape_mismatch(self.key, self.stored_shape, shape, self.transposed)
        if problem:
            self.mismatched.append(problem)
            return np.zeros(shape, numpy_dtype(dtype))  # the model is discarded: the loader raises after build
        self.used = True
        return self.prefetcher.get(self.key, self.transposed, dtype)


def build_from_checkpoint(
    model,
    slots: Mapping[str, tuple],
    shapes: Mapping[str, tuple],
    prefetcher: Prefetcher,
    source: str,
    transposed: frozenset | set = frozenset(),
) -> None:
    """Build the unbuilt ``model`` with every variable created from its stored array.

    ``slots`` maps checkpoint keys to ``(layer, weight attribute)`` (``slots.keyed_slots``): the layer's
    ``<attribute>_initializer`` returns the stored array (from ``prefetcher``) while ``model.build()`` runs and is
    restored afterwards. No zero-filled variables are overwritten later.
    Raises CheckpointError naming every missing, unexpected and mis-shaped key; the model is then not usable.
    """
    missing, unexpected = key_difference(slots, shapes)
    if missing or unexpected:
        model.build()  # zeros, only to report shape mismatches along with the missing/unexpected keys
        variables = {k: getattr(layer, attr) for k, (layer, attr) in slots.items()}
        raise CheckpointError(f"{source} does not fit the model: {check_fit(variables, shapes, transposed).problems()}")
    mismatched: list[str] = []
    installed = []
    try:
        for key, (layer, attr) in slots.items():
            initializer = _StoredValue(key, shapes[key], key in transposed, prefetcher, mismatched)
            installed.append((layer, attr + "_initializer", getattr(layer, attr + "_initializer"), initializer))
            setattr(layer, attr + "_initializer", initializer)
        model.build()
    finally:
        for layer, name, original, _ in installed:
            setattr(layer, name, original)
    if mismatched:
        raise CheckpointError(f"{source} does not fit the model: {Fit([], [], mismatched).problems()}")
    used = sum(initializer.used for *_, initializer in installed)
    if used != len(slots) or len(model.weights) != len(slots):
        raise RuntimeError(
            f"internal error: {len(model.weights)} model variables, {len(slots)} named by the layout, "
            f"{used} created from the checkpoint"
        )


# ----------------------------------------------------------------------------------------------- a Source to a model


def empty_model(config: ElectraConfig, head: Head, *, dtype=None, deferred: bool = False):
    """The model for ``head`` (``models.build_model``) with zeros for weights, or unbuilt with ``deferred`` (see
    ``build_from_checkpoint``): a loader fills it."""
    # The model code imports keras: here, after a loader's copies have started, never at this module's import.
    from electra_qa.models.factory import build_model
    from electra_qa.models.initializers import build_deferred, weights_to_be_loaded

    with weights_to_be_loaded(), build_deferred() if deferred else contextlib.nullcontext():
        return build_model(config, head, dtype=dtype)


def model_keys(source: Source, head: Head) -> list[str]:
    """The stored keys a model with ``head`` reads: all model weights, or the encoder's only."""
    if head.encoder_only:
        return [k for k in source.shapes if k.startswith(source.format.encoder_prefix)]
    return list(source.shapes)


def keys_for(model, source: Source, head: Head) -> tuple[dict, set, dict, list[str]]:
    """The model's weight slots (``slots.keyed_slots``) and transposed keys in the source's naming, the stored
    shapes to check them against, and the stored keys left unused (with an encoder-only head, those outside the encoder
    rather than unexpected)."""
    slots, transposed = keyed_slots(model, source.format)
    shapes = {k: source.shapes[k] for k in model_keys(source, head)}
    unused = list(source.ignored) + [k for k in source.shapes if k not in shapes]
    return slots, transposed, shapes, unused


def validate(source: Source, keys: list[str]) -> list[str]:
    """What ``load_source`` would refuse in ``source``'s data, found without building a model: missing or
    truncated data files, checksum mismatches, weights that are not floating point or not finite. Returns the
    problems (``inspect_checkpoint`` reports them; loading raises the first)."""
    try:
        source.check_readable(keys)
        for key in keys:
            checked_weight(key, np.asarray(source.read(key)))
    except CheckpointError as e:
        return [str(e)]
    return []


def size_misfits(source: Source, config: ElectraConfig) -> list[str]:
    """Where the config's sizes differ from the checkpoint's stored shapes, read from the index alone: checked before
    a model is built, so a config that does not describe the checkpoint allocates nothing."""
    c = config
    expected = {
        "electra/embeddings/word_embeddings": (c.vocab_size, c.embedding_size),
        "electra/embeddings/position_embeddings": (c.max_position_embeddings, c.embedding_size),
        "electra/embeddings/token_type_embeddings": (c.type_vocab_size, c.embedding_size),
        "electra/encoder/layer_0/attention/self/query/kernel": (c.hidden_size, c.hidden_size),
        "electra/encoder/layer_0/intermediate/dense/kernel": (c.hidden_size, c.intermediate_size),
    }
    fmt, mismatched = source.format, []
    for name, shape in expected.items():
        key = fmt.key(name)
        transposed = fmt.transposed_kernels and name.endswith("/kernel")
        if key in source.shapes:
            problem = _shape_mismatch(key, source.shapes[key], shape, transposed)
            if problem:
                mismatched.append(problem)
    problems = [f"shape mismatch ({len(mismatched)}): {_listing(mismatched)}"] if mismatched else []
    layers = 0
    while layers <= c.num_hidden_layers and source.shape(f"electra/encoder/layer_{layers}/attention/self/query/kernel"):
        layers += 1
    if layers and layers != c.num_hidden_layers:
        problems.append(f"num_hidden_layers: checkpoint {layers}, config {c.num_hidden_layers}")
    return problems


def load_source(source: Source, head: Head, config: ElectraConfig, *, dtype=None, precision: str | None = None):
    """Build the model for ``head`` from ``source`` (strict, see ``build_from_checkpoint``); closes the source.
    ``dtype``/``precision`` as for ``load_model``."""
    try:
        misfits = size_misfits(source, config)
        if misfits:
            raise CheckpointError(
                f"{source.format.description} {source.path!r} does not fit the model its config describes "
                "(checked before building): " + "; ".join(misfits)
            )
        keys = model_keys(source, head)
        source.check_readable(keys)
        # A worker thread copies the arrays while this thread imports the backend (resolving the precision is the
        # first thing that needs it) and constructs the model.
        with Prefetcher(
            keys,
            source.read,
            transposed=lambda k: source.format.stored_transposed(k, source.shapes[k]),
            new_arrays=source.new_arrays,
        ) as prefetcher:
            dtype = resolve_dtype(precision, dtype)
            model = empty_model(config, head, dtype=dtype, deferred=True)
            slots, transposed, shapes, _ = keys_for(model, source, head)
            build_from_checkpoint(
                model,
                slots,
                shapes,
                prefetcher,
                source=f"{source.format.description} {source.path!r}",
                transposed=transposed,
            )
    finally:
        source.close()
    return model
