"""Producers of an experiment's results: the analysis of its files (`analysis`), their records (`records`, light:
the launcher judges results without the statistics stack), the damping curve (`damping`), a study's table
(`study`)."""
