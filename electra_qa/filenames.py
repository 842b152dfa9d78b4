"""The file names this library reads and writes, in one place."""

CONFIG = "config.json"  # model sizes (+ our ``electra_qa`` section in folders we write)
KERAS_WEIGHTS = "model.weights.h5"  # an electra_qa folder's weights (Keras 3)
SAFETENSORS = "model.safetensors"  # Hugging Face PyTorch-layout weights
HF_TF_WEIGHTS = "tf_model.h5"  # Hugging Face TF2 weights (Keras 2 HDF5)
TF_STATE = "checkpoint"  # TensorFlow's checkpoint state file (names the latest prefix)
PYTORCH_PICKLES = ("pytorch_model.bin", "model.pt", "model.pth")  # never unpickled
TOKENIZER_JSON = "tokenizer.json"
VOCAB_TXT = "vocab.txt"
SENTENCEPIECE = ("spiece.model", "sentencepiece.model")
