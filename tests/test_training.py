"""Fine-tuning: the loss against a float64 numpy version, the optimizer's per-variable rules, dropout in training
only, learning, resuming, and no global state touched. Tiny configs and NVIDIA's tiny fixtures; seconds each."""

import importlib
import json
import random

import keras
import numpy as np
import numpy_reference as ref
import pytest
from checkpoint_writers import ngc_weights
from conftest import fixture_dir

from electra_qa import ElectraConfig, ElectraForQuestionAnswering, InputError, inspect_checkpoint, load_model
from electra_qa.training import (
    LayerwiseAdamW,
    WarmupLinearDecay,
    decayed_paths,
    fine_tune,
    layerwise_multipliers,
    training_features,
)
from electra_qa.training.labels import answer_token_span

LOSS_ATOL = 1e-5  # float32 model vs float64 numpy, losses of order 1-5
TINY = {"max_seq_length": 64, "doc_stride": 24, "max_query_length": 16}


def _fixture_batch(folder, rng):
    """The first batch NVIDIA's code fed the ngc_tiny model (the simple fixture saved no p_mask), with labels."""
    io = np.load(fixture_dir("ngc_tiny") / "io.npz")
    x = {k: io[f"b0_{k}"] for k in ("input_ids", "attention_mask", "token_type_ids", "p_mask")}
    starts, ends = [], []
    for row in x["p_mask"]:
        allowed = np.flatnonzero(row == 0)
        s = int(rng.choice(allowed))
        starts.append(s)
        ends.append(int(rng.choice(allowed[allowed >= s])) if s else 0)
    x["start_positions"] = np.asarray(starts, np.int32)
    x["end_positions"] = np.asarray(ends, np.int32)
    x["is_impossible"] = (x["start_positions"] == 0).astype(np.float32)
    return x


def _numpy_loss(model, x):
    w = ngc_weights(model)
    h = ref.encoder(w, model.config.to_dict(), x["input_ids"], x["attention_mask"], x["token_type_ids"])
    return ref.training_loss(
        w,
        h,
        model.head_type,
        x["start_positions"],
        x["end_positions"],
        x["p_mask"],
        x["is_impossible"],
        model.config.layer_norm_eps,
        model.end_mask_value,
    )


@pytest.mark.parametrize("name", ["ngc_tiny", "ngc_tiny_simple"])
def test_loss_matches_float64_numpy_on_fixture_inputs(name):
    folder = fixture_dir(name)
    model = load_model(folder)
    x = _fixture_batch(folder, np.random.default_rng(0))
    assert x["start_positions"].max() > 0  # real spans, not only [CLS]
    got = float(model.compute_loss(x, None, model(x, training=False)))
    want = _numpy_loss(model, x)
    assert abs(got - want) < LOSS_ATOL, (got, want)
    assert got > 0.5  # an untrained head: a real cross-entropy, not a masked-out zero


def test_v2_joint_loss_adds_half_the_answer_class_cross_entropy():
    cfg = ElectraConfig(
        vocab_size=1000,
        embedding_size=16,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    model = ElectraForQuestionAnswering(cfg, head="joint", version_2=True)
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(rng.normal(0, 0.2, size=v.shape).astype("float32") + (1.0 if v.name == "gamma" else 0.0))
    x = _fixture_batch(fixture_dir("ngc_tiny"), rng)
    got = float(model.compute_loss(x, None, model(x)))
    want = _numpy_loss(model, x)
    without = float(model.compute_loss({k: v for k, v in x.items() if k != "is_impossible"}, None, model(x)))
    assert abs(got - want) < LOSS_ATOL, (got, want)
    assert got - without > 1e-3  # the answer-class term is really there


def test_inference_is_bit_identical_with_dropout_layers():
    """Dropout only acts in training: a model with the config's 0.1 dropout gives exactly the outputs of the same
    weights with no dropout at all (the same operations), and different ones in training mode."""
    folder = fixture_dir("ngc_tiny_simple")
    model = load_model(folder)
    assert model.config.hidden_dropout_prob == 0.1
    plain = ElectraForQuestionAnswering(
        ElectraConfig.from_dict(
            {**model.config.to_dict(), "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
        ),
        head="simple",
    )
    plain.set_weights(model.get_weights())
    x = _fixture_batch(folder, np.random.default_rng(0))
    del x["start_positions"], x["end_positions"], x["is_impossible"]
    for training in (False, None):
        a, b = model(x, training=training), plain(x, training=training)
        for key in ("start_logits", "end_logits", "sequence_output"):
            np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]))  # bit-identical, on purpose
    dropped = np.asarray(model(x, training=True)["start_logits"])
    assert np.abs(dropped - np.asarray(plain(x)["start_logits"])).max() > 1e-4


def _tiny_model(layers=2):
    cfg = ElectraConfig(
        vocab_size=100,
        embedding_size=8,
        hidden_size=16,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    return ElectraForQuestionAnswering(cfg, head="joint")


def test_layerwise_learning_rate_multiplier_of_every_variable():
    model = _tiny_model(layers=2)
    got = layerwise_multipliers(model, 0.8)
    # Written out from the rule: depth 0 embeddings, i + 1 block i, n + 2 = 4 the head; factor 0.8 ** (4 - depth).
    want = {}
    for v in model.trainable_variables:
        parts = v.path.split("/")
        part = parts[2] if parts[1] == "electra" else "head"
        want[v.path] = {
            "embeddings": 0.8**4,
            "embeddings_project": 0.8**4,
            "layer_0": 0.8**3,
            "layer_1": 0.8**2,
            "head": 1.0,
        }[part]
    assert set(got) == set(want) and len(got) == len(model.trainable_variables)
    for path in want:
        assert got[path] == pytest.approx(want[path], rel=1e-12), path
    name = model.name
    assert got[f"{name}/qa_head/start_dense/kernel"] == 1.0
    assert got[f"{name}/electra/embeddings/word_embeddings"] == pytest.approx(0.4096)


def test_weight_decay_applies_exactly_to_the_named_variables():
    """With zero gradients Adam's step is 0, so one update shows the decay alone: w * (1 - lr * factor * 0.01) for
    kernels and embeddings, nothing for biases and LayerNorm gamma/beta."""
    model = _tiny_model()
    decayed = set(decayed_paths(model))
    assert decayed == {v.path for v in model.trainable_variables if v.name not in ("bias", "gamma", "beta")}
    assert f"{model.name}/electra/embeddings/word_embeddings" in decayed
    factors = layerwise_multipliers(model, 0.8)
    optimizer = LayerwiseAdamW(0.5, factors, sorted(decayed), weight_decay=0.01, global_clipnorm=None)
    variables = model.trainable_variables
    before = [np.asarray(v) for v in variables]
    optimizer.apply([keras.ops.zeros(v.shape) for v in variables], variables)
    for v, old in zip(variables, before):
        scale = 1 - 0.5 * factors[v.path] * 0.01 if v.path in decayed else 1.0
        np.testing.assert_allclose(np.asarray(v), old * scale, rtol=1e-6, atol=1e-9, err_msg=v.path)


def _numpy_adam(w, grads, lr, eps, bias_corrected_epsilon, b1=0.9, b2=0.999):
    """float64 Adam, written from the two textbook forms (no decay, no clipping)."""
    w, m, v = w.astype("float64"), 0.0, 0.0
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if bias_corrected_epsilon:  # PyTorch's AdamW
            w = w - lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        else:  # Keras', TensorFlow's and NVIDIA's Adam
            w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


@pytest.mark.parametrize("bias_corrected", [False, True])
def test_adam_steps_match_float64_numpy_in_both_epsilon_placements(bias_corrected):
    """Gradients of 1e-7..1e-5, where the placement matters: each form equals its numpy version, not the other's."""
    rng = np.random.default_rng(4)
    start = rng.normal(0, 0.05, (64,)).astype("float32")
    grads = [(rng.normal(0, 1, (64,)) * 10.0 ** rng.uniform(-7, -5, (64,))).astype("float32") for _ in range(5)]
    variable = keras.Variable(start, name="kernel")
    optimizer = LayerwiseAdamW(
        1e-3, weight_decay=0.0, epsilon=1e-6, bias_corrected_epsilon=bias_corrected, global_clipnorm=None
    )
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(g)], [variable])
    got = np.asarray(variable, "float64") - start
    want = _numpy_adam(start, grads, 1e-3, 1e-6, bias_corrected) - start
    other = _numpy_adam(start, grads, 1e-3, 1e-6, not bias_corrected) - start
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=3e-8)  # float32 weights near 0.05: 4e-9 rounding a step
    assert np.abs(want - other).max() > 1e-4  # the two forms really differ here


def test_warmup_then_linear_decay():
    schedule = WarmupLinearDecay(1e-3, total_steps=100, warmup_steps=10)
    got = [float(schedule(s)) for s in (0, 5, 10, 55, 100, 120)]
    np.testing.assert_allclose(got, [0.0, 5e-4, 1e-3, 5e-4, 0.0, 0.0], rtol=1e-6, atol=1e-12)


def test_training_labels_point_at_the_answer_tokens():
    from electra_qa import QuestionAnswerer, load_squad

    folder = fixture_dir("ngc_tiny_simple")
    qa = QuestionAnswerer.from_checkpoint(folder, **TINY)
    examples = load_squad(folder / "squad_dev.json").examples
    features = training_features(qa, examples)
    a = features.arrays
    assert a["input_ids"].shape == (len(features), 64) and not features.skipped
    inside = a["start_positions"] > 0
    assert inside.any() and (~inside).any()  # long contexts: some windows hold the answer, some do not
    np.testing.assert_array_equal(a["is_impossible"], (~inside).astype(np.float32))
    for row in np.flatnonzero(inside):
        example = examples[features.example_index[row]]
        s, e = a["start_positions"][row], a["end_positions"][row]
        assert s <= e and a["p_mask"][row, s] == 0 and a["p_mask"][row, e] == 0
        text = qa.tokenizer.decode(a["input_ids"][row, s : e + 1]) if hasattr(qa.tokenizer, "decode") else None
        if text is not None:
            assert text.replace(" ", "") == example.answers[0].lower().replace(" ", "")
    offsets = np.array([[0, 5], [6, 8], [8, 12], [13, 20]])
    assert answer_token_span(offsets, 6, 12) == (1, 2) and answer_token_span(offsets, 9, 10) == (2, 2)
    assert answer_token_span(offsets, 12, 13) is None


def _memorise_examples():
    """16 questions, each about its own stretch of the fixture's real paragraphs: which word follows a given one."""
    from electra_qa import load_squad

    examples = load_squad(fixture_dir("ngc_tiny_simple") / "squad_dev.json").examples
    text = " ".join(sorted({e.context for e in examples}))
    words = list(_words(text))
    records = []
    for n in range(16):
        first = n * 7 % (len(words) - 11)
        start, end = words[first][0], words[first + 10][0] + len(words[first + 10][1])
        context = text[start:end]
        k = next(j for j in range(first + 5, first + 10) if len(words[j][1].strip(".,;:'\"()")) > 3)
        ps, previous = words[k - 1]  # answers of real words: "the" or "," would score F1 0 even when exact
        s, answer = words[k]
        records.append(
            {
                "id": f"m{n}",
                "question": f"what comes after {previous}?",
                "context": context,
                "answers": [{"text": answer, "answer_start": s - start}],
            }
        )
    return records


def _words(text):
    pos = 0
    for w in text.split():
        pos = text.index(w, pos)
        yield pos, w
        pos += len(w)


def test_a_tiny_model_learns_sixteen_questions(tmp_path):
    from electra_qa import evaluate_squad, predict_squad

    records = _memorise_examples()
    qa = fine_tune(
        fixture_dir("ngc_tiny_simple"),
        records,
        epochs=60,
        batch_size=4,
        learning_rate=5e-3,
        layerwise_lr_decay=1.0,
        warmup_proportion=0.0,
        progress=False,
        seed=0,
        **TINY,
    )
    scores = evaluate_squad(records, predict_squad(qa, records, progress=False))
    assert scores["exact_match"] == pytest.approx(100.0), scores


def test_resume_after_epoch_one_equals_an_uninterrupted_run(tmp_path):
    folder = fixture_dir("ngc_tiny_simple")
    data = folder / "squad_dev.json"
    args = dict(epochs=2, batch_size=4, learning_rate=1e-3, progress=False, seed=5, **TINY)
    straight = fine_tune(folder, data, output_dir=tmp_path / "straight", **args)

    class StopAfterOneEpoch(keras.callbacks.Callback):  # an interruption once epoch 1's folder is written
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    fine_tune(folder, data, output_dir=tmp_path / "resumed", callbacks=[StopAfterOneEpoch()], **args)
    assert json.loads((tmp_path / "resumed" / "training.json").read_text())["epochs_done"] == 1
    resumed = fine_tune(folder, data, output_dir=tmp_path / "resumed", resume=True, **args)
    log = json.loads((tmp_path / "resumed" / "training.json").read_text())
    assert [h["epoch"] for h in log["history"]] == [1, 2] and log["epochs_done"] == 2
    moved = 0.0
    for a, b, start in zip(straight.model.weights, resumed.model.weights, load_model(folder).weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=1e-7, err_msg=a.path)
        moved = max(moved, float(np.abs(np.asarray(a) - np.asarray(start)).max()))
    assert moved > 1e-3  # training really changed the weights


def test_each_epoch_trains_on_the_order_drawn_from_seed_and_epoch(monkeypatch):
    """Epoch e's batches are default_rng([seed, e])'s permutation of the windows, in order. (Keras' fit calls a
    PyDataset's on_epoch_end once before the first epoch too: counting those calls trained epoch 0 on epoch 1's
    order.)"""
    module = importlib.import_module("electra_qa.training.fine_tune")  # the module, not the function
    served, training = [], []
    original = module._Batches.__getitem__

    def spy(self, index):
        batch = original(self, index)
        if training:  # not the batches fit reads beforehand to learn their shapes
            served.append((self.arrays["input_ids"], batch["input_ids"]))
        return batch

    class Started(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            training.append(True)

    monkeypatch.setattr(module._Batches, "__getitem__", spy)
    folder = fixture_dir("ngc_tiny_simple")
    fine_tune(
        folder, folder / "squad_dev.json", epochs=2, batch_size=4, progress=False, seed=3, callbacks=[Started()], **TINY
    )
    windows = served[0][0]
    expected = []
    for epoch in range(2):
        rows = np.random.default_rng([3, epoch]).permutation(len(windows))
        expected += [windows[rows[i : i + 4]] for i in range(0, len(rows), 4)]
    assert len(windows) > 8 and len(served) == len(expected)
    for n, ((_, got), want) in enumerate(zip(served, expected)):
        assert np.array_equal(got, want), f"batch {n}"


def test_training_the_ngc_fixture_keeps_a_strict_loadable_folder(tmp_path):
    folder = fixture_dir("ngc_tiny")
    qa = fine_tune(
        folder, folder / "squad_dev.json", epochs=1, batch_size=4, output_dir=tmp_path, progress=False, **TINY
    )
    saved = tmp_path / "epoch-1"
    info = inspect_checkpoint(saved)
    assert info.fit.ok and info.head == "joint"
    reloaded = load_model(saved)
    assert reloaded.head_type == "joint" and reloaded.beam_size == 4
    for a, b in zip(qa.model.weights, reloaded.weights):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=0, atol=0, err_msg=a.path)
    import pickle

    data = pickle.dumps(qa)  # pickles as the last epoch's folder, as a loaded answerer does
    assert len(data) < 5_000 and "epoch-1 (keras)" in repr(qa)
    assert pickle.loads(data)("Who?", "Nobody knows who.").text == qa("Who?", "Nobody knows who.").text
    before = load_model(folder)
    assert (
        max(float(np.abs(np.asarray(a) - np.asarray(b)).max()) for a, b in zip(before.weights, reloaded.weights)) > 1e-5
    )


def test_no_global_state_is_changed():
    keras.config.set_dtype_policy("float32")
    python_state, numpy_state = random.getstate(), np.random.get_state()
    folder = fixture_dir("ngc_tiny_simple")
    fine_tune(folder, folder / "squad_dev.json", epochs=1, batch_size=4, progress=False, precision="bfloat16", **TINY)
    assert keras.config.dtype_policy().name == "float32" and keras.config.floatx() == "float32"
    assert random.getstate() == python_state
    assert all(
        np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
        for a, b in zip(np.random.get_state(), numpy_state)
    )


@pytest.fixture
def encoder_folder(tmp_path):
    """The ngc_tiny_simple encoder alone (no head), saved as a folder with its vocab: a pretrained-encoder start."""
    import shutil

    from electra_qa import save_model

    folder = fixture_dir("ngc_tiny_simple")
    out = save_model(load_model(folder, head="encoder"), tmp_path / "encoder")
    shutil.copy(folder / "vocab.txt", out)
    return out


def test_an_encoder_gets_a_new_head_from_the_seed(encoder_folder):
    data = fixture_dir("ngc_tiny_simple") / "squad_dev.json"
    args = dict(epochs=1, batch_size=4, learning_rate=1e-9, progress=False, head="joint", **TINY)
    a, b = fine_tune(encoder_folder, data, seed=1, **args), fine_tune(encoder_folder, data, seed=1, **args)
    c = fine_tune(encoder_folder, data, seed=2, **args)
    assert a.model.head_type == "joint"
    encoder = load_model(encoder_folder)
    for x, y in zip(a.model.electra.weights, encoder.electra.weights):  # lr 1e-9: the encoder as it was loaded
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=1e-6, err_msg=x.path)
    kernel = np.asarray(a.model.qa_head.start_dense.kernel)
    np.testing.assert_allclose(kernel, np.asarray(b.model.qa_head.start_dense.kernel), rtol=0, atol=1e-6)
    assert np.abs(kernel - np.asarray(c.model.qa_head.start_dense.kernel)).max() > 1e-3
    assert 0.01 < kernel.std() < 0.03 and np.abs(kernel).max() <= 0.04 + 1e-6  # truncated normal, std 0.02


def test_a_discriminator_start_gets_a_new_simple_head(tmp_path):
    import shutil

    from electra_qa import build_model, save_model

    folder = fixture_dir("ngc_tiny_simple")
    encoder = load_model(folder, head="encoder")
    discriminator = build_model(encoder.config, "discriminator")
    discriminator.electra.set_weights(encoder.electra.get_weights())
    start = save_model(discriminator, tmp_path / "discriminator")
    shutil.copy(folder / "vocab.txt", start)
    qa = fine_tune(start, folder / "squad_dev.json", epochs=1, batch_size=4, learning_rate=1e-9, progress=False, **TINY)
    assert qa.model.head_type == "simple" and len(qa.model.qa_head.weights) == 2
    for x, y in zip(qa.model.electra.weights, encoder.electra.weights):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=1e-6, err_msg=x.path)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"epochs": 0}, "epochs"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"layerwise_lr_decay": 1.5}, "layerwise_lr_decay"),
        ({"resume": True}, "output_dir"),
        ({"precision": "fp8"}, "precision"),
        ({"head": "pooler"}, "head"),
        ({"adam_epsilon": 0.0}, "adam_epsilon"),
    ],
)
def test_bad_arguments_are_input_errors(kwargs, message, encoder_folder):
    data = fixture_dir("ngc_tiny_simple") / "squad_dev.json"
    with pytest.raises(InputError, match=message):
        fine_tune(encoder_folder, data, progress=False, **TINY, **kwargs)


def test_cli_train_writes_epoch_folders_and_resumes(tmp_path, capsys):
    from electra_qa.cli import main

    folder = fixture_dir("ngc_tiny_simple")
    argv = [
        "train",
        "--init",
        str(folder),
        "--train",
        str(folder / "squad_dev.json"),
        "--eval",
        str(folder / "squad_dev.json"),
        "--out",
        str(tmp_path),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--max-seq-length",
        "64",
        "--doc-stride",
        "24",
        "--max-query-length",
        "16",
        "--no-progress",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert '"exact_match"' in out and str(tmp_path / "epoch-1") in out
    assert main(argv[: argv.index("--epochs") + 1] + ["2"] + argv[argv.index("--epochs") + 2 :] + ["--resume"]) == 0
    assert json.loads((tmp_path / "training.json").read_text())["epochs_done"] == 2
    assert (
        main(["train", "--init", str(folder), "--train", str(tmp_path / "missing.json"), "--out", str(tmp_path / "x")])
        == 2
    )
    assert "missing.json" in capsys.readouterr().err


@pytest.mark.parametrize("precision, scaled", [("mixed_float16", True), ("mixed_bfloat16", False)])
def test_half_precision_training(precision, scaled, tmp_path):
    """float16 gets dynamic loss scaling, bfloat16 none; the variables stay float32 and the loss is finite."""
    folder = fixture_dir("ngc_tiny_simple")
    qa = fine_tune(
        folder,
        folder / "squad_dev.json",
        epochs=1,
        batch_size=4,
        precision=precision,
        progress=False,
        output_dir=tmp_path,
        **TINY,
    )
    assert qa.model.dtype_policy.name == precision
    assert isinstance(qa.model.optimizer, keras.optimizers.LossScaleOptimizer) is scaled
    assert {v.dtype for v in qa.model.trainable_variables} == {"float32"}
    assert np.isfinite(qa.training_log["history"][0]["loss"])
    assert load_model(tmp_path / "epoch-1").dtype_policy.name == "float32"  # saved weights load as usual
