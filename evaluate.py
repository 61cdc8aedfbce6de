"""Evaluate base vs enhanced VAE reconstructions over a folder of audio.

python evaluate.py data.dir=PATH [model=tiny] [enhancement=mel_hf_shelf] [enhancement.gain=1.6] [key=value ...]
python evaluate.py --config outputs/eval/<run>/config.yaml       # reproduce a run from its saved config
"""

import sys

from audiovae.cli import main

if __name__ == "__main__":
    sys.exit(main("eval", sys.argv[1:]))
