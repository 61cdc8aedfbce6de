"""`audiovae-search`: Optuna studies of a job's settings (`run`), their space (`space`), storage and workers'
bookkeeping (`study`), trials as ordinary runs (`trials`) and the study's outputs (`outputs`)."""
