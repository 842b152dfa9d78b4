"""SQuAD files: reading them (``load_squad``), scoring predictions exactly as the official scripts do
(``evaluate_squad``), answering a whole file with the files NVIDIA's run writes (``predict_squad``), and fitting the
calibration of ``QuestionAnswerer.ask``'s scores (``calibrate``)."""

from electra_qa.squad.calibrate import calibrate
from electra_qa.squad.data import Skipped, SquadDataset, SquadExample, load_squad
from electra_qa.squad.metrics import evaluate_squad
from electra_qa.squad.predict import SquadPredictions, predict_squad

__all__ = [
    "load_squad",
    "evaluate_squad",
    "predict_squad",
    "calibrate",
    "SquadDataset",
    "SquadExample",
    "SquadPredictions",
    "Skipped",
]
