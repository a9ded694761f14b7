"""What a worker runs for one trial: the data and its validation protocol, the metric
registry and cost measurements, fitting and scoring, per-round reporting for pruning, the
trial entry point, and the worker's data cache. No Optuna study, no storage, no executor."""
