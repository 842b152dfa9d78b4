"""The heads a model can have, one class per file, and the registry that maps their names to them.

| name            | class               | answers questions | what it is                                  |
| --------------- | ------------------- | ----------------- | ------------------------------------------- |
| ``simple``      | ``SimpleHead``      | yes               | SQuAD ``qa_outputs`` (Hugging Face, Google) |
| ``joint``       | ``JointHead``       | yes               | NVIDIA's beam-search head (NGC checkpoint)  |
| ``discriminator`` | ``DiscriminatorHead`` | no            | ELECTRA's replaced-token detection          |
| ``encoder``     | ``EncoderOnly``     | no                | none: the backbone's hidden states          |

A new head is a ``Head`` subclass in a file of its own plus one ``register`` line below. Nothing outside the head
classes compares head names: code asks the head (``head.can_abstain``, ``head.candidates(...)``, ...).
"""

from __future__ import annotations

from electra_qa.errors import InputError
from electra_qa.heads.base import Candidate, Head
from electra_qa.heads.discriminator import DiscriminatorHead
from electra_qa.heads.encoder import EncoderOnly
from electra_qa.heads.joint import JointHead
from electra_qa.heads.simple import SimpleHead

__all__ = [
    "Candidate",
    "Head",
    "SimpleHead",
    "JointHead",
    "DiscriminatorHead",
    "EncoderOnly",
    "REGISTRY",
    "register",
    "unregister",
    "get_head",
    "as_head",
    "qa_head_names",
    "detect_head",
    "saved_head",
]

REGISTRY: dict[str, type[Head]] = {}


def register(cls: type[Head]) -> type[Head]:
    """Add a head class under its ``name`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Head)) or not isinstance(getattr(cls, "name", None), str):
        raise InputError(f"register takes a Head subclass with a name, got {cls!r}")
    REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a head class (tests that register a toy head clean up with this)."""
    REGISTRY.pop(name, None)


register(SimpleHead)
register(JointHead)
register(DiscriminatorHead)
register(EncoderOnly)


def get_head(name: str, **options) -> Head:
    """The head registered as ``name`` with ``options`` (InputError for an unknown name or option)."""
    cls = REGISTRY.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InputError(f"head must be one of {tuple(REGISTRY)}, got {name!r}")
    return cls(**options)


def as_head(head: str | Head, **options) -> Head:
    """``head`` itself when it is a ``Head`` (then ``options`` must be empty), else ``get_head(head, **options)``.
    Options given as None are left out (the head's defaults apply)."""
    options = {k: v for k, v in options.items() if v is not None}
    if isinstance(head, Head):
        if options:
            raise InputError(f"pass options with a head name, not with a {type(head).__name__} instance: {options}")
        return head
    return get_head(head, **options)


def qa_head_names() -> tuple[str, ...]:
    """The names of the registered heads that answer questions."""
    return tuple(name for name, cls in REGISTRY.items() if cls.answers_questions)


def detect_head(has_key) -> Head:
    """The head a checkpoint holds, from ``has_key(canonical weight name)``: the first registered head that
    recognises its weights, the encoder-only head (which recognises any) last."""
    for cls in sorted(REGISTRY.values(), key=lambda cls: cls.encoder_only):
        found = cls.detect(has_key)
        if found is not None:
            return found
    raise InputError("no registered head recognises the checkpoint")  # unreachable while EncoderOnly is registered


def saved_head(section: dict) -> Head:
    """The head of a model saved by ``save_model`` (its config.json's ``electra_qa`` section). Folders from before
    heads were named in the section name only the model class, which then tells the head."""
    name = section.get("head")
    if name is None:
        matching = [cls for cls in REGISTRY.values() if cls.model_class == section.get("model")]
        if len(matching) != 1:
            raise InputError(
                f"the saved section names no head and its model class {section.get('model')!r} does not tell one"
            )
        return matching[0].from_saved(section)
    cls = REGISTRY.get(name)
    if cls is None:
        raise InputError(f"the saved model has a {name!r} head, which is not registered (known: {tuple(REGISTRY)})")
    return cls.from_saved(section)
