"""What a ``QuestionAnswerer`` is, as (field, value) rows: its ``repr`` and its table in a notebook."""

from __future__ import annotations


def answerer_rows(qa) -> list[list]:
    """Where the model came from, its head and sizes, parameters, precision and device, windowing and scoring."""
    from electra_qa.precision import describe

    m, c, st = qa.model, qa.model.config, qa.settings
    if hasattr(m, "dtype_policy"):
        where = describe(m)
        precision = (
            f"{where['policy']} (variables {where['variable_dtype']}, compute "
            f"{where['compute_dtype']}) on {where['device']} ({where['backend']})"
        )
        parameters = f"{m.count_params():,}"
    else:  # a serving.RemoteModel
        precision = parameters = f"remote ({m!r})"
    windows = (
        f"max_seq_length {st.max_seq_length}, doc_stride {st.doc_stride}, max_query_length "
        f"{st.max_query_length}" + (f", doc_overlap {st.doc_overlap}" if st.doc_overlap else "")
    )
    scoring = (
        f"{st.scoring}, n_best_size {st.n_best_size}, max_answer_length {st.max_answer_length}, "
        f"SQuAD 2.0 null answers {'on' if st.version_2_with_negative else 'off'}"
    )
    return [
        ["loaded from", qa.__dict__.get("_loaded_from", "built in memory")],
        ["model", f"{type(m).__name__} ({m.head.describe()})"],
        [
            "encoder",
            f"{c.num_hidden_layers} layers, hidden {c.hidden_size}, {c.num_attention_heads} heads, "
            f"embedding {c.embedding_size}, vocabulary {c.vocab_size:,}",
        ],
        ["parameters", parameters],
        ["precision", precision],
        ["tokenizer", f"{type(qa.tokenizer).__name__}, {qa.tokenizer.vocab_size:,} ids"],
        ["windows", windows],
        ["scoring", scoring],
        ["batch_size", st.batch_size],
    ]
