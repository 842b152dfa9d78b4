"""The notebook flow: load the NGC checkpoint once, ask several questions, look at top_k.

    python examples/notebook_flow.py CHECKPOINT_FOLDER [VOCAB_TXT]

With the NGC download: CHECKPOINT_FOLDER holds electra_base_qa_v2_False_epoch_2_ckpt.* and VOCAB_TXT is the
BERT-uncased vocab.txt. Without arguments it uses the tiny fixture beside the repo (random weights: answers are
well-formed spans but meaningless).
"""

import sys

from electra_qa import ElectraConfig, QuestionAnswerer

checkpoint = sys.argv[1] if len(sys.argv) > 1 else "../shared/fixtures/ngc_tiny"
vocab = sys.argv[2] if len(sys.argv) > 2 else None
config = ElectraConfig.base() if vocab else None  # the NGC folder has no config.json

qa = QuestionAnswerer.from_checkpoint(checkpoint, vocab=vocab, config=config)

context = ("The river Avon flows through the old town of Bradford, where a stone bridge was built in 1610. "
           "Merchants used the bridge to carry wool and cloth to the market on the eastern bank.")
for question in ("When was the stone bridge built?", "What did merchants carry?", "Which river flows through town?"):
    best = qa(question, context)
    print(f"{question}\n  -> {best.text!r} (score {best.score:.3f}, chars {best.start}:{best.end})")

print("\nTop 3 for the first question:")
for a in qa("When was the stone bridge built?", context, top_k=3):
    print(f"  {a.score:.3f}  {a.text!r}")

print("\nMany questions at once (windows batched together):")
for a in qa.batch([("Who used the bridge?", context), ("Where is the market?", context)]):
    print(f"  {a.text!r}")
