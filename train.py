"""Fine-tune the enhancement (VAE and vocoder frozen), tracked in W&B, resumable, exported for evaluation.

python train.py data.dir=PATH [model=tiny] [enhancement=learnable_latent_filter] [key=value ...]
python train.py data.dir=PATH out_dir=outputs/train/<run> resume=true      # continue an interrupted run
python evaluate.py data.dir=PATH enhancement.checkpoint=outputs/train/<run>/enhancer.safetensors
"""

import sys

from audiovae.cli import main

if __name__ == "__main__":
    sys.exit(main("train", sys.argv[1:]))
