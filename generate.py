"""Generate with AudioLDM2's own pipeline and compare the base and enhanced decodes of the same latents.

python generate.py prompts=PROMPTS.txt seeds=[0,1] [model=tiny_pipeline] [enhancement.gain=1.6] [key=value ...]
python generate.py --config outputs/generate/<run>/config.yaml   # reproduce a run from its saved config
"""

import sys

from audiovae.cli import main

if __name__ == "__main__":
    sys.exit(main("generate", sys.argv[1:]))
