"""The reconstructions a model yields per file (`AudioAutoencoder.variants`), by name: light, so reports and
listening tools can name them without loading a model."""

CEILING = "vocoder"  # a mel model's reference log-mel straight through its vocoder: the best its synthesis can do
BASE = "base"  # the base decode
ENHANCED = "enhanced"  # the decode through the enhancer
