"""Each default lives in one place (``QASettings``, ``settings.DEFAULT_MAX_SEQ_LENGTH``/``CHUNK_SIZE``,
``recipe.TrainingRecipe``); the library's signatures and the command line read them from there."""

import dataclasses
import inspect

from electra_qa import answer_file, fine_tune, predict_squad
from electra_qa.cli import _parser
from electra_qa.recipe import RECIPE, TrainingRecipe
from electra_qa.settings import CHUNK_SIZE, DEFAULT_MAX_SEQ_LENGTH, QASettings

CLI_TRAIN_NAMES = {"learning_rate": "lr"}  # fine_tune argument -> `electra-qa train` option, where they differ


def _defaults(function) -> dict:
    return {
        name: p.default
        for name, p in inspect.signature(function).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def test_train_command_defaults_equal_fine_tune_and_the_recipe():
    args = vars(_parser().parse_args(["train", "--init", "i", "--train", "t", "--out", "o"]))
    library = _defaults(fine_tune)
    for field in dataclasses.fields(TrainingRecipe):
        assert library[field.name] == getattr(RECIPE, field.name), field.name
        assert args[CLI_TRAIN_NAMES.get(field.name, field.name)] == getattr(RECIPE, field.name), field.name
    windows = {
        "max_seq_length": DEFAULT_MAX_SEQ_LENGTH,
        "doc_stride": QASettings.doc_stride,
        "max_query_length": QASettings.max_query_length,
    }
    for name, value in windows.items():
        assert library[name] == args[name] == value, name


def test_answering_commands_leave_windows_to_the_model_and_share_the_chunk_size():
    """Window options not given on the command line are None: the model's (saved) settings, else QASettings'."""
    parser = _parser()
    for argv in (
        ["answer", "-q", "q", "-c", "c"],
        ["evaluate", "d.json"],
        ["predict", "d.json", "--out", "o"],
        ["batch", "in.jsonl", "out.jsonl"],
    ):
        args = vars(parser.parse_args(argv))
        assert args["max_seq_length"] is args["doc_stride"] is args["max_query_length"] is None
        assert args["precision"] == RECIPE.precision
        if "chunk_size" in args:
            assert args["chunk_size"] == CHUNK_SIZE == _defaults(predict_squad)["chunk_size"]
            assert _defaults(answer_file)["chunk_size"] == CHUNK_SIZE
            assert args["batch_size"] is None  # QASettings.batch_size


def test_help_texts_quote_the_library_defaults():
    sub = next(a for a in _parser()._actions if a.dest == "command").choices["answer"]
    helps = {a.dest: a.help for a in sub._actions}
    assert f"default {QASettings.doc_stride}" in helps["doc_stride"]
    assert f"default {QASettings.max_query_length}" in helps["max_query_length"]
    assert str(DEFAULT_MAX_SEQ_LENGTH) in helps["max_seq_length"]
