"""``fine_tune``: SQuAD fine-tuning with Keras ``fit`` and NVIDIA's recipe, resumable after any epoch.

Each epoch ends with an electra-qa folder ``output_dir/epoch-N`` (model, tokenizer, settings: what
``QuestionAnswerer.from_checkpoint`` loads) plus ``training_state.npz`` in it (optimizer slots and step, dropout
seeds), and ``output_dir/training.json`` (the arguments and every epoch's loss and EM/F1). ``resume=True`` restarts
from the last such folder; on a CPU it gives the weights of an uninterrupted run.
"""

from __future__ import annotations

import json
import math
import os
import time
import zipfile

import keras
import numpy as np

from electra_qa import precision as precision_lib
from electra_qa.checkpoints import load_model
from electra_qa.checkpoints.find import locate
from electra_qa.errors import InputError
from electra_qa.files import check_output_folder, make_folder, os_error
from electra_qa.heads import get_head
from electra_qa.models import ElectraForQuestionAnswering, build_model
from electra_qa.models.initializers import weights_to_be_loaded
from electra_qa.pipeline import QuestionAnswerer
from electra_qa.recipe import RECIPE, TrainingRecipe
from electra_qa.settings import DEFAULT_MAX_SEQ_LENGTH, QASettings
from electra_qa.squad import evaluate_squad, load_squad, predict_squad
from electra_qa.squad.metrics import check_scorable
from electra_qa.tokenization import load_tokenizer
from electra_qa.training.labels import training_features
from electra_qa.training.optimizer import LayerwiseAdamW, WarmupLinearDecay, decayed_paths, layerwise_multipliers

STATE_FILE = "training_state.npz"
LOG_FILE = "training.json"


class _Batches(keras.utils.PyDataset):
    """Batches of the labelled windows in the order of the current epoch: a permutation drawn from (seed, epoch)
    alone, so that a resumed run sees the batches an uninterrupted one would.

    ``_Epochs.on_epoch_begin`` sets the epoch from ``fit``'s own count. (Counting ``on_epoch_end`` calls would be off
    by one: ``fit`` also calls it once before the first epoch.)"""

    def __init__(self, arrays: dict, batch_size: int, seed: int, epoch: int = 0):
        super().__init__()
        self.arrays, self.batch_size, self.seed = arrays, batch_size, seed
        self.size = len(arrays["input_ids"])
        self.set_epoch(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """The rows of ``epoch`` (0-based), in the order they are trained."""
        return np.random.default_rng([self.seed, epoch]).permutation(self.size)

    def set_epoch(self, epoch: int) -> None:
        self._order = self.order(epoch)

    def __len__(self) -> int:
        return math.ceil(self.size / self.batch_size)

    def __getitem__(self, index: int):
        rows = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        return {name: value[rows] for name, value in self.arrays.items()}


def _seed_states(model) -> list:
    """The dropout layers' random-seed variables, in model order."""
    return [v for v in model.non_trainable_variables if v.name == "seed_generator_state"]


def _seed_dropout(model, seed: int) -> None:
    for i, state in enumerate(_seed_states(model)):
        state.assign(np.asarray([seed * 1000 + i, 0], dtype=keras.backend.standardize_dtype(state.dtype)))


def _truncated_normal(rng, shape, stddev):
    """Keras' TruncatedNormal: normal draws redrawn until within 2 standard deviations."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return (out * stddev).astype("float32")


def _new_head_weights(model, seed: int) -> None:
    """The new head's kernels from ``seed`` (truncated normal, initializer_range), biases 0, LayerNorm 1/0."""
    rng = np.random.default_rng([seed, 1])
    for v in model.qa_head.trainable_variables:
        if v.name == "kernel":
            v.assign(_truncated_normal(rng, tuple(v.shape), model.config.initializer_range))
        else:
            v.assign(np.full(tuple(v.shape), 1.0 if v.name == "gamma" else 0.0, "float32"))


def _new_head_model(encoder_model, head: str, policy, seed: int):
    """A QA model with a new ``head`` (weights from ``seed``) on ``encoder_model``'s backbone: the same backbone
    object, so its weights are shared, not copied."""
    with weights_to_be_loaded():  # no random draws: the head's weights are set below
        model = ElectraForQuestionAnswering(encoder_model.backbone, get_head(head), dtype=policy)
    _new_head_weights(model, seed)
    return model


def _copy_model(model, policy):
    """The same QA model (same head, same weights) built with ``policy``: the user's model is left as it is."""
    with weights_to_be_loaded():
        copy = build_model(model.config, model.head, dtype=policy)
    copy.set_weights(model.get_weights())
    return copy


def _start_answerer(start, *, head, vocab, policy, seed, settings: QASettings) -> QuestionAnswerer:
    if isinstance(start, QuestionAnswerer):
        return QuestionAnswerer(_copy_model(start.model, policy), start.tokenizer, settings)
    if not isinstance(start, (str, os.PathLike)):
        raise InputError(f"start must be a checkpoint path or a QuestionAnswerer, got {type(start).__name__}")
    located = locate(start)
    model = load_model(located, dtype=policy)
    if not model.head.answers_questions:
        model = _new_head_model(model, head, policy, seed)
    try:
        tokenizer = load_tokenizer(vocab if vocab is not None else located.folder)
    except InputError as e:
        raise InputError(f"no usable tokenizer beside {os.fspath(start)!r} ({e}): pass vocab=") from None
    return QuestionAnswerer(model, tokenizer, settings)


def _previous_run(output_dir: str, arguments: dict) -> tuple[int, list]:
    """Epochs an earlier run in ``output_dir`` finished, and their history (0 and none if there was no run). A log
    that cannot be read, or that was written with other training arguments, is an InputError: resuming then would
    retrain over the earlier epochs or mix two recipes."""
    path = os.path.join(output_dir, LOG_FILE)
    if not os.path.exists(path):
        if any(name.startswith("epoch-") for name in _listing(output_dir)):
            raise InputError(f"{output_dir} holds epoch folders but no {LOG_FILE}: cannot tell where to resume")
        return 0, []
    try:
        with open(path, encoding="utf-8") as f:
            log = json.load(f)
        done, history, earlier = int(log["epochs_done"]), list(log.get("history", [])), dict(log["arguments"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as e:
        raise InputError(f"cannot resume: {path} is unreadable or damaged ({type(e).__name__}: {e})") from None
    changed = [k for k, v in arguments.items() if k in earlier and earlier[k] != v]
    if changed:
        shown = ", ".join(f"{k}: {earlier[k]!r} then, {arguments[k]!r} now" for k in changed)
        raise InputError(f"cannot resume {output_dir} with other training arguments ({shown}); use the same ones")
    return done, history


def _listing(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []
    except OSError as e:
        raise os_error(e, "read", folder) from None


def _check_output_dir(output_dir: str, done: int, epochs: int) -> None:
    """Before training: ``output_dir`` can be made, and no epoch folder to be written is blocked by a file."""
    make_folder(output_dir)
    for n in range(done + 1, epochs + 1):
        folder = os.path.join(output_dir, f"epoch-{n}")
        if os.path.exists(folder) and not os.path.isdir(folder):
            raise InputError(f"{folder} is a file; the epoch's folder would be written there")


def _save_state(folder: str, optimizer, model) -> None:
    arrays = {f"optimizer_{i}": np.asarray(v) for i, v in enumerate(optimizer.variables)}
    arrays.update({f"seed_{i}": np.asarray(v) for i, v in enumerate(_seed_states(model))})
    tmp = os.path.join(folder, "training_state.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, os.path.join(folder, STATE_FILE))


def _restore_state(folder: str, optimizer, model) -> None:
    path = os.path.join(folder, STATE_FILE)
    try:
        with np.load(path) as state:
            arrays = {k: state[k] for k in state.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise InputError(f"cannot resume: {path} is missing or damaged ({type(e).__name__}: {e})") from None
    variables, seeds = optimizer.variables, _seed_states(model)
    wanted = {f"optimizer_{i}": v for i, v in enumerate(variables)} | {f"seed_{i}": v for i, v in enumerate(seeds)}
    if set(arrays) != set(wanted):
        raise InputError(f"cannot resume: {path} does not fit this optimizer (resume with the same arguments)")
    wrong = [k for k, v in wanted.items() if tuple(arrays[k].shape) != tuple(v.shape)]
    if wrong:
        raise InputError(f"cannot resume: {path} holds arrays of other shapes ({', '.join(wrong[:5])})")
    for key, variable in wanted.items():
        variable.assign(arrays[key])


class _Epochs(keras.callbacks.Callback):
    """Gives each epoch its batch order; after it, saves the epoch's folder and state, evaluates, and logs."""

    def __init__(self, batches: _Batches, qa, optimizer, output_dir, eval_data, log: dict, progress: bool):
        super().__init__()
        self.batches, self.qa, self.optimizer, self.output_dir = batches, qa, optimizer, output_dir
        self.eval_data, self.log, self.progress = eval_data, log, progress
        self.started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self.batches.set_epoch(epoch)
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {
            "epoch": epoch + 1,
            "loss": float((logs or {}).get("loss", float("nan"))),
            "seconds": round(time.perf_counter() - self.started, 1),
        }
        if not math.isfinite(record["loss"]) or not all(
            np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in self.qa.model.trainable_variables
        ):
            raise InputError(
                f"training diverged in epoch {epoch + 1} (loss {record['loss']}, or weights not finite); nothing "
                "of this epoch was saved: lower the learning rate"
            )
        if self.eval_data is not None:
            predictions = predict_squad(self.qa, self.eval_data, progress=self.progress)
            record.update(evaluate_squad(self.eval_data, predictions))
        self.log["history"].append(record)
        self.log["epochs_done"] = epoch + 1
        if self.output_dir is not None:
            try:
                folder = self.qa.save(os.path.join(self.output_dir, f"epoch-{epoch + 1}"))
                _save_state(folder, self.optimizer, self.qa.model)
                self.log["last_folder"] = folder
                tmp = os.path.join(self.output_dir, LOG_FILE + ".tmp")
                with open(tmp, "w", encoding="utf-8") as f:
                    json.dump(self.log, f, indent=2)
                os.replace(tmp, os.path.join(self.output_dir, LOG_FILE))
            except OSError as e:
                raise os_error(e, f"save epoch {epoch + 1} into", self.output_dir) from None
        if self.progress:
            print("epoch", epoch + 1, {k: v for k, v in record.items() if k != "epoch"})


# Longer than ~60 lines: a 17-argument signature and its documentation; the steps it runs are the helpers above
# (start model, labels, ``_compiled``) and ``_Epochs``.
def fine_tune(
    start,
    train_data,
    *,
    eval_data=None,
    epochs: int = RECIPE.epochs,
    batch_size: int = RECIPE.batch_size,
    learning_rate: float = RECIPE.learning_rate,
    layerwise_lr_decay: float = RECIPE.layerwise_lr_decay,
    warmup_proportion: float = RECIPE.warmup_proportion,
    weight_decay: float = RECIPE.weight_decay,
    adam_epsilon: float = RECIPE.adam_epsilon,
    bias_corrected_epsilon: bool = RECIPE.bias_corrected_epsilon,
    precision: str = RECIPE.precision,
    output_dir: str | os.PathLike | None = None,
    seed: int = RECIPE.seed,
    max_seq_length: int = DEFAULT_MAX_SEQ_LENGTH,
    doc_stride: int = QASettings.doc_stride,
    max_query_length: int = QASettings.max_query_length,
    head: str = RECIPE.head,
    vocab: str | os.PathLike | None = None,
    resume: bool = False,
    progress: bool = True,
    callbacks: list | None = None,
    jit_compile: bool | str = "auto",
) -> QuestionAnswerer:
    """Fine-tune a model on SQuAD-style questions with NVIDIA's recipe; returns the trained ``QuestionAnswerer``.

    The defaults are ``training.recipe.TrainingRecipe``'s (NVIDIA's recipe) and, for the windows, ``QASettings``'.

    Args:
        start: a checkpoint path (any format ``load_model`` reads) or a ``QuestionAnswerer``. A SQuAD model (the
            NGC checkpoint, a saved folder) keeps its head and continues training; an ELECTRA discriminator or a
            BERT-family encoder gets a new ``head`` ("simple" or NVIDIA's "joint") initialised from ``seed``, on the
            same backbone.
        train_data, eval_data: anything ``load_squad`` reads (the first answer of each question is its label).
            With ``eval_data``, EM/F1 as the official script after each epoch.
        epochs, batch_size, learning_rate: NVIDIA's 1-GPU recipe is 2 epochs, 32, 1e-4.
        layerwise_lr_decay: each transformer block learns this much slower than the one above (0.8 for base,
            see ``electra_qa.training.optimizer``); 1.0 turns it off.
        warmup_proportion: share of the steps with a linear warm-up; the rate then decays linearly to 0.
        weight_decay: decoupled decay, not on biases and LayerNorm weights. Gradients are clipped to norm 1.0.
        adam_epsilon, bias_corrected_epsilon: Adam's epsilon, added to sqrt(v) as Keras' and NVIDIA's Adam do, or
            with ``bias_corrected_epsilon=True`` to the bias-corrected root as PyTorch's AdamW does; the latter moves
            small-gradient weights more in the first few hundred steps (``electra_qa.training.optimizer``).
        precision: "auto" (mixed float16 on an NVIDIA GPU with tensor cores, with dynamic loss scaling; else
            float32), or any of ``electra_qa.precision.PRECISIONS``; bfloat16 needs no loss scaling.
        output_dir: write ``epoch-N`` folders and ``training.json`` there; ``resume=True`` continues from the last.
        seed: the new head's initial weights, the dropout masks and the shuffling all come from it.
        max_seq_length, doc_stride, max_query_length: the windows, as at inference.
        vocab: the tokenizer when none is beside ``start``'s weights.
        progress: Keras' progress bar and a line per epoch.
        callbacks: more Keras callbacks for ``fit`` (they run after the epoch's folder is written).
        jit_compile: XLA for the training step, as ``keras.Model.compile`` takes it ("auto": Keras' choice).

    The user's Keras dtype policy, random seeds and TensorFlow settings are left as they were.
    """
    recipe = TrainingRecipe(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        layerwise_lr_decay=layerwise_lr_decay,
        warmup_proportion=warmup_proportion,
        weight_decay=weight_decay,
        adam_epsilon=adam_epsilon,
        bias_corrected_epsilon=bias_corrected_epsilon,
        precision=precision,
        seed=seed,
        head=head,
    )
    if resume and output_dir is None:
        raise InputError("resume=True needs the output_dir of the run to continue")
    policy = precision_lib.dtype_policy(recipe.precision)
    windows = {"max_seq_length": max_seq_length, "doc_stride": doc_stride, "max_query_length": max_query_length}
    settings = QASettings(**windows)
    train = load_squad(train_data)
    if not train.examples:
        raise InputError(f"{train.source} has no usable training questions")
    evaluation = None if eval_data is None else load_squad(eval_data)
    if evaluation is not None:
        check_scorable(evaluation, every_question_answered=True)  # before training, not after the first epoch

    output_dir = None if output_dir is None else check_output_folder(output_dir)
    # a resumed run continues the same recipe: more epochs may be asked for, nothing else may change
    same = {k: v for k, v in recipe.to_dict().items() if k not in ("epochs", "head")} | windows
    same["precision"] = policy.name
    done, history = _previous_run(output_dir, same) if resume else (0, [])
    if output_dir is not None:
        _check_output_dir(output_dir, done, recipe.epochs)
    if done >= recipe.epochs:
        return QuestionAnswerer.from_checkpoint(os.path.join(output_dir, f"epoch-{done}"))
    if done:
        start = os.path.join(output_dir, f"epoch-{done}")
    qa = _start_answerer(start, head=recipe.head, vocab=vocab, policy=policy, seed=recipe.seed, settings=settings)
    if not done:
        _seed_dropout(qa.model, recipe.seed)
    features = training_features(qa, train.examples)
    if not len(features):
        raise InputError(
            "no training windows: every question was skipped "
            f"({features.skipped[0][1] if features.skipped else 'no answers'})"
        )
    optimizer = _compiled(qa.model, recipe, policy, len(features), jit_compile)
    if done:
        _restore_state(start, optimizer, qa.model)

    where = os.fspath(start) if isinstance(start, (str, os.PathLike)) else type(start).__name__
    log = {
        "arguments": {
            "start": where,
            **recipe.to_dict(),
            "precision": policy.name,
            **windows,
            "head": qa.model.head.name,
        },
        "train_windows": len(features),
        "skipped": len(features.skipped),
        "epochs_done": done,
        "history": history,
    }
    batches = _Batches(features.arrays, recipe.batch_size, recipe.seed, done)
    callback = _Epochs(batches, qa, optimizer, output_dir, evaluation, log, progress)
    # shuffle=False: _Batches shuffles from the seed (Keras would shuffle batches with Python's global random).
    qa.model.fit(
        batches,
        epochs=recipe.epochs,
        initial_epoch=done,
        shuffle=False,
        verbose=1 if progress else 0,
        callbacks=[callback, *(callbacks or [])],
    )
    qa.training_log = log
    if output_dir is not None:
        qa.remember_source(log["last_folder"], "keras", precision=policy.name)
    return qa


def _compiled(model, recipe: TrainingRecipe, policy, windows: int, jit_compile) -> keras.optimizers.Optimizer:
    """Compile ``model`` with the recipe's optimizer and schedule for ``windows`` training windows; returns the
    (built) optimizer. float16 gets Keras' dynamic loss scaling."""
    steps_per_epoch = math.ceil(windows / recipe.batch_size)
    total = steps_per_epoch * recipe.epochs
    schedule = WarmupLinearDecay(recipe.learning_rate, total, int(recipe.warmup_proportion * total))
    optimizer = LayerwiseAdamW(
        schedule,
        layerwise_multipliers(model, recipe.layerwise_lr_decay),
        decayed_paths(model),
        weight_decay=recipe.weight_decay,
        epsilon=recipe.adam_epsilon,
        bias_corrected_epsilon=recipe.bias_corrected_epsilon,
    )
    if policy.name in ("mixed_float16", "float16"):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, jit_compile=jit_compile)
    optimizer.build(model.trainable_variables)
    return optimizer
