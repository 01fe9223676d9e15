"""The `dgflow-tf` command line.

    dgflow-tf refine          refine a saved generator's samples with a saved critic (.npy + PNG)
    dgflow-tf stream          refine any number of samples into checksummed .npy shards; resumable
    dgflow-tf evaluate        metrics of saved samples against reference data
    dgflow-tf sweep           choose the step size and number of steps on a tuning batch
    dgflow-tf export          write a SavedModel that refines latents inside its graph
    dgflow-tf demo            DGflow vs DOT, DDLS, DRS, MH-GAN on 2-D GANs (25 Gaussians, Swiss roll)
    dgflow-tf gaussian-demo   refine a 2-D Gaussian model whose refined law is known in closed form

Run `dgflow-tf COMMAND --help` for each command's options and defaults.
"""

from dgflow_tf.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
