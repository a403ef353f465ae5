"""Conditional WGAN-GP for 28x28 handwritten digits, in plain PyTorch.

Modules, in the order of use:

- ``config``: hyperparameters, saved in every checkpoint;
- ``models``: generator and critic;
- ``losses``: WGAN objectives and gradient penalty;
- ``data``: MNIST loading;
- ``checkpoint``: save and load;
- ``training`` and ``train``: the training loop and its CLI;
- ``export``: sampling checkpoints, with the latent scale to sample at;
- ``sampling`` and ``sample``: deterministic generation, PNG output and a grid CLI;
- ``classifier``, ``metrics`` and ``evaluate``: quality measurement.
"""

__version__ = "0.1.0"
