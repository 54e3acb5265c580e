"""``python -m ttt`` runs the ``ttt`` command; it is also what torchrun launches:

torchrun --nproc-per-node 2 -m ttt lm train --preset demo --threads 1
"""

from ttt.cli.main import app

if __name__ == "__main__":
    app(prog_name="ttt")
