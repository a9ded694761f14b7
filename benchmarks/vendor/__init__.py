"""Third-party code the benchmarks run as it was published (each file names its source,
commit and licence)."""


def hub_auto_sampler(seed: int | None = None):
    """OptunaHub's AutoSampler, imported on first use (it needs torch, scipy and cmaes)."""
    from .optunahub_auto_sampler import AutoSampler

    return AutoSampler(seed=seed)
