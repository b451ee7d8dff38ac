"""Entry points: the scripts' bodies (`scripts`, `analysis`), their flags (`flags`, `launcher`), and
`python -m bayestda.provenance` (`provenance`). Import the module you need: each script imports only its own."""
