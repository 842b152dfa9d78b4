"""Every exception type raised by electra_qa.

Every error a user can cause (bad input, a checkpoint that does not fit the model, a failed download) is a subclass
of :class:`ElectraQAError`, which is itself a ``ValueError``, so ``except ValueError`` also catches them.
"""


class ElectraQAError(ValueError):
    """Base class for errors raised by electra_qa."""


class ConfigError(ElectraQAError):
    """A model configuration is invalid or does not fit a checkpoint."""


class CheckpointError(ElectraQAError):
    """A checkpoint is missing, unreadable, or does not fit the model (names the keys)."""


class InputError(ElectraQAError):
    """A question, context or other call argument is not usable."""


class DownloadError(ElectraQAError):
    """A model could not be fetched or installed into the cache."""


class ChecksumError(DownloadError):
    """A downloaded file's SHA-256 differs from the recorded one (the file is deleted)."""


class RemoteModelError(ElectraQAError):
    """A served model (``serving.RemoteModel``) did not answer in time, could not be reached, or answered something
    unusable (missing outputs, wrong shapes, NaN)."""
