"""`python -m bayestda.provenance show FILE | adopt --experiment E`: a script; its body is `bayestda.cli.provenance`."""

from ..cli.provenance import main
from ..cli.scripts import run

if __name__ == "__main__":
    run(main)
