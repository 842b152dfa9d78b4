"""Exception types raised by electra_qa.

Every error a user can cause (bad input, a checkpoint that does not fit the model) is a subclass of
:class:`ElectraQAError`, which is itself a ``ValueError``, so ``except ValueError`` also catches them.
"""


class ElectraQAError(ValueError):
    """Base class for errors raised by electra_qa."""


class ConfigError(ElectraQAError):
    """A model configuration is invalid or does not fit a checkpoint."""


class CheckpointError(ElectraQAError):
    """A checkpoint is missing, unreadable, or does not fit the model (names the keys)."""


class InputError(ElectraQAError):
    """A question, context or other call argument is not usable."""
