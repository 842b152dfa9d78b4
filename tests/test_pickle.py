"""A ``QuestionAnswerer`` pickles: by its checkpoint path when it was loaded from one (small, reloaded on the other
side, as Ray and Spark workers want), with its weights when it was built in memory."""

import os
import pickle

import keras
import numpy as np
import pytest
from conftest import fixture_dir, same_answers

from electra_qa import ElectraConfig, QuestionAnswerer, build_model, load_tokenizer
from electra_qa.hub import PACKAGED_VOCAB

CONTEXT = "My name is Harry and I grew up in Canada. I love apples."


def test_loaded_from_a_path_it_pickles_as_the_path(tmp_path, monkeypatch):
    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"), n_best_size=7)
    data = pickle.dumps(qa)
    assert len(data) < 5_000 and os.path.realpath(fixture_dir("ngc_tiny")).encode() in data
    monkeypatch.chdir(tmp_path)  # another working directory, as on a worker
    again = pickle.loads(data)
    assert again.settings == qa.settings and again.n_best_size == 7
    assert same_answers(again("What food?", CONTEXT, top_k=3), qa("What food?", CONTEXT, top_k=3))


def test_built_in_memory_it_pickles_its_weights():
    config = ElectraConfig(
        hidden_size=32,
        embedding_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    keras.utils.set_random_seed(3)
    qa = QuestionAnswerer(build_model(config, "joint"), load_tokenizer(PACKAGED_VOCAB), max_answer_length=12)
    data = pickle.dumps(qa)
    assert len(data) > 4 * 1_000_000  # the weights travel: ~1M float32 embedding values
    again = pickle.loads(data)
    assert again.max_answer_length == 12
    for a, b in zip(again.model.weights, qa.model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    assert same_answers(again("What food?", CONTEXT), qa("What food?", CONTEXT))


def test_keras_saving_round_trips_the_model(tmp_path):
    model = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny")).model
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert type(again).__name__ == "ElectraForQuestionAnswering" and again.head_type == "joint"
    for a, b in zip(again.weights, model.weights):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))


def test_copy_shares_the_model_and_separates_the_settings(monkeypatch):
    import copy

    qa = QuestionAnswerer.from_checkpoint(fixture_dir("ngc_tiny"))
    monkeypatch.setattr(QuestionAnswerer, "from_checkpoint", lambda *a, **k: pytest.fail("copy reloaded the model"))
    wide = copy.copy(qa)
    wide.n_best_size = 50
    assert wide.model is qa.model and (wide.n_best_size, qa.n_best_size) == (50, 20)
