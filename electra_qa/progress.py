"""The library's one progress bar: ``tqdm.auto`` (a widget in Jupyter, a bar on stderr in a terminal)."""

from __future__ import annotations


def progress_bar(
    desc: str,
    *,
    total: int | None = None,
    unit: str = "it",
    enabled: bool = True,
    initial: int = 0,
    bytes_: bool = False,
):
    """A tqdm bar (disabled when ``enabled`` is false); ``bytes_`` shows sizes in kB/MB and rates in MB/s."""
    from tqdm.auto import tqdm

    extra = {"unit_scale": True, "unit_divisor": 1000} if bytes_ else {}
    return tqdm(
        total=total,
        initial=initial,
        unit="B" if bytes_ else unit,
        desc=desc,
        disable=not enabled,
        dynamic_ncols=True,
        **extra,
    )
