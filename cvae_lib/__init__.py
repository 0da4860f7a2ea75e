"""cvae_lib: the library behind the executable book on Conditional Variational Autoencoders.

One module per concept:

* ``settings``  run profiles (fast / full), paths, seeding
* ``data``      MNIST cut into quadrants, train / validation / test splits
* ``models``    the baseline network and the Pyro CVAE
* ``train``     one training loop for both models, train-or-load checkpoints
* ``evaluate``  negative conditional log-likelihood estimators
* ``plots``     the book's figures
* ``reproduce`` the whole experiment, as run by ``python -m cvae_lib reproduce``
"""
__version__ = "0.1.0"

from .data import load_mnist, load_splits, mask_quadrants  # noqa: E402
from .evaluate import baseline_nll, cvae_is_nll, cvae_mc_nll, cvae_neg_elbo  # noqa: E402
from .models import CVAE, BaselineNet, predict_completions  # noqa: E402
from .settings import get_profile, seed_everything  # noqa: E402
from .train import train_or_load_baseline, train_or_load_cvae  # noqa: E402

__all__ = [
    "BaselineNet", "CVAE", "baseline_nll", "cvae_is_nll", "cvae_mc_nll", "cvae_neg_elbo",
    "get_profile", "load_mnist", "load_splits", "mask_quadrants", "predict_completions",
    "seed_everything", "train_or_load_baseline", "train_or_load_cvae",
]
