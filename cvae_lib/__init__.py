"""cvae_lib: the library behind the executable book on Conditional Variational Autoencoders.

One module per job, in layers that import only downwards (the README's layout table lists them):

* settings                      run profiles and the run configuration, built once at the edge
* data, models, digits          MNIST in quadrants; the paper's networks; what whole-digit models share
* objectives, loop, checkpoints  what is minimised (CVAE, GSNN, hybrid); the training loop; train-or-load
* train, recipe                 learning-rate schedules and train-or-load; the published training recipe
* evaluate, quality             CLL estimators; chapter 9's completion measures
* label_cvae, classifier_cvae   chapters 7 and 8
* experiment, results, report   one setting trained and evaluated; cll.json; its Markdown
* reproduce, ablation           the paper's experiment (with its remedies) and the recipe comparison
* conditioning, conditioning_report  chapters 7-8's models measured; their tables and figures
* plots, digit_plots, book      figures and what the notebooks display
* notebooks, repository, __main__  executing the book; the one repository setting; the command line
"""
__version__ = "0.1.0"

from .util import flush_denormal_floats  # noqa: E402

# Before torch starts its worker threads, which copy the setting from this one when they are
# created (and ignore it if they already exist): see flush_denormal_floats.
flush_denormal_floats()

from .data import load_mnist, load_splits, mask_quadrants  # noqa: E402
from .evaluate import baseline_nll, cvae_is_nll, cvae_mc_nll, cvae_neg_elbo  # noqa: E402
from .models import CVAE, BaselineNet, predict_completions  # noqa: E402
from .recipe import RECIPE, Recipe  # noqa: E402
from .settings import RunConfig, seed_everything  # noqa: E402
from .train import Schedule, train_or_load_baseline, train_or_load_cvae  # noqa: E402

__all__ = [
    "BaselineNet", "CVAE", "RECIPE", "Recipe", "RunConfig", "Schedule", "baseline_nll", "cvae_is_nll", "cvae_mc_nll", "cvae_neg_elbo",
    "load_mnist", "load_splits", "mask_quadrants", "predict_completions",
    "seed_everything", "train_or_load_baseline", "train_or_load_cvae",
]
