"""Fine-tuning the enhancement: losses, export, and the training run."""
