"""Finding files, segmenting long signals, and the datasets/datamodules of each entry point."""
