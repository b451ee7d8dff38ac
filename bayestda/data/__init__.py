"""Data: the paper's subsets from the shipped pixels (`subsets`), the ViT's images (`vit_images`), and what LDS is
computed against (`subset_losses`: numpy only, so that the analysis library needs no torch). Import the module:
`from bayestda.data.subsets import generate_subsets`."""
