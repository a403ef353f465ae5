"""Conditional WGAN-GP for 28x28 handwritten digits, in plain PyTorch.

The modules follow the order of use: ``config`` (hyperparameters), ``models``
(generator and critic), ``losses`` (WGAN objectives and gradient penalty),
``data`` (MNIST loading), ``checkpoint`` (save and load), ``train`` (the
training CLI), ``sampling`` (deterministic generation and PNG output),
``classifier`` and ``evaluate`` (quality measurement).
"""

__version__ = "0.1.0"
