"""Writes the book's notebooks (sources only, no outputs) from one place.

Run `python book/_make_notebooks.py` after editing the text here, then
`make book-execute` to execute them and store their outputs. Readers and Colab
use the generated `.ipynb` files; this script keeps the shared first cells
(Colab install, settings) identical in every chapter.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

BOOK = Path(__file__).resolve().parent
REPOSITORY = "https://github.com/cvae-book/cvae-book"  # keep in step with _config.yml
IGNORE = ["nbval-ignore-output"]  # output depends on the run profile, on timing or on random ids

COLAB_SETUP = f'''\
# In Google Colab, install the library behind this book; anywhere else it is installed already.
import sys

if "google.colab" in sys.modules:
    %pip install --quiet "cvae-lib[book] @ git+{REPOSITORY}"'''


def md(text):
    return new_markdown_cell(text.strip("\n"))


def code(source, tags=None):
    cell = new_code_cell(source.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def settings_cell(extra_imports=""):
    return code(f'''
{extra_imports}
from cvae_lib import settings
from cvae_lib.book import describe_settings

PROFILE = settings.get_profile()  # `full` (published numbers) unless $CVAE_PROFILE=fast (smoke run)
SEED = 0
QUADRANTS = (1, 2, 3)
print(describe_settings(PROFILE, SEED))
'''.strip("\n"), tags=IGNORE)


def write(name, title_cells, cells):
    nb = new_notebook(cells=[*title_cells, code(COLAB_SETUP), *cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for index, cell in enumerate(nb.cells):  # stable ids: regenerating changes no line that did not change
        cell.id = f"{name[:2]}-{index:03d}"
    path = BOOK / f"{name}.ipynb"
    old = nbformat.read(path, as_version=4) if path.exists() else None
    if old is not None:  # keep stored outputs of unchanged cells
        for new_cell, old_cell in zip(nb.cells, old.cells):
            if new_cell.cell_type == "code" and old_cell.cell_type == "code" and new_cell.source == old_cell.source:
                new_cell.outputs, new_cell.execution_count = old_cell.outputs, old_cell.execution_count
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------------------------
write("00_introduction", [md(r"""
# Conditional VAEs, executable

This book teaches the **conditional variational autoencoder** (CVAE) of Sohn, Lee & Yan
{cite}`sohn2015learning` by running it. Every figure and every number on these pages is produced
by the notebooks you are reading, which call a small library, `cvae_lib`, that lives in the same
repository.

**The task.** An MNIST digit is cut into four quadrants. One, two or three of them are given
(the input $x$); the rest must be drawn (the output $y$). Given only the bottom-left corner of a
digit, is it a 3 or a 5? Both are possible, so there is no single right answer: the prediction
must be a *distribution* over images, not one image.

**What you will learn.**

1. how to frame a structured-output problem as conditional density estimation ({doc}`01_data_masking`);
2. why a network trained to predict one output averages the plausible answers into a blur ({doc}`02_baseline`);
3. the CVAE's three networks (recognition $q(z\mid x,y)$, conditional prior $p(z\mid x)$, generation
   $p(y\mid x,z)$), its evidence lower bound, and how to write it in Pyro {cite}`bingham2019pyro` ({doc}`03_cvae`);
4. how to train both models with one loop, with early stopping on a held-out validation split ({doc}`04_training`);
5. how to *measure* a generative model honestly: the negative ELBO is only an upper bound, and
   importance sampling {cite}`burda2016importance` estimates the conditional log-likelihood itself ({doc}`05_evaluation`).

Beyond the paper:

6. the other model called "conditional VAE", conditioned on a digit label, and how the KL weight
   $\beta$ trades the diversity of samples against their fidelity ({doc}`06_label_cvae`);
7. a CVAE that classifies the digit itself and passes a Gumbel-softmax one-hot code to its
   decoder, separating style from digit ({doc}`07_classifier_cvae`);
8. how to put numbers on "diverse but realistic": a digit classifier reads the completions
   ({doc}`08_quality`).

**Where this differs from Pyro's CVAE tutorial.** Early stopping uses a validation split held out
from the training images, never the test set; the importance-sampled CLL is reported beside the
negative ELBO that the tutorial calls "Monte Carlo"; grey-scale targets are handled deliberately
(chapter 3); and the results table is computed and stored in a file, then rendered, never typed.
""")], [
    md(r"""
## Running the book

**On your machine.** `make test` installs everything into `.venv/` and runs the tests;
`make book-execute` re-runs every chapter and stores its outputs; `make book` builds this site.
One switch sets how big a run is: the environment variable `CVAE_PROFILE`. `full` (the default)
gives the published numbers; `fast` trains on a subset for a few epochs, which is enough to see
every figure in a few minutes.

**In Google Colab.** Use the rocket button at the top of each chapter ("Colab"). The first code
cell installs the library there; MNIST is downloaded by torchvision. Each chapter stands alone:
it loads the checkpoints of earlier chapters when it finds them and trains otherwise.

**How long each chapter takes.** Wall time when the stored outputs were produced, on the
machines named below the table. No GPU time has been measured yet; on a GPU (`CVAE_DEVICE=cuda`,
chosen automatically when PyTorch sees one, as in Colab's GPU runtime) training and evaluation run
there.
"""),
    code('''
from cvae_lib.book import timings_markdown

timings_markdown()
''', tags=IGNORE),
    md(r"""
**How long the published run takes.** The chapters above load trained models; training them is
the long part. The whole published table (three settings, three seeds, with the
importance-sampling evaluation) is one command, and its stored results say how long it took
(seeds run side by side on one machine share its cores, so each of them takes longer):
"""),
    code('''
from cvae_lib.book import published_run_markdown

published_run_markdown()
''', tags=IGNORE),
])

# ----------------------------------------------------------------------------------------------
write("01_data_masking", [md(r"""
# 1. Data: MNIST cut into quadrants

Most supervised learning maps an input to *one* output. In **structured output prediction**
the output is itself high-dimensional — an image, a segmentation, a sentence — and for a given
input several outputs can be right. Sohn et al. {cite}`sohn2015learning` study this with a
small, visual benchmark: complete an MNIST digit {cite}`lecun1998gradient` from some of its quadrants.
""")], [
    settings_cell("import torch\n\nfrom cvae_lib import data, plots"),
    md(r"""
## The images

MNIST has 60,000 training and 10,000 test images of handwritten digits, 28 × 28 grey levels.
`cvae_lib.data.load_mnist` reads them once through torchvision and scales them to $[0, 1]$.
"""),
    code('''
mnist = data.load_mnist()
{split: tuple(images.shape) for split, (images, labels) in mnist.items()}
'''),
    md(r"""
## Inputs and outputs

Each image is cut into four 14 × 14 quadrants. With 1 input quadrant, $x$ is the bottom-left
quadrant; with 2, the left half; with 3, everything but the bottom-right quadrant (the layout of
Pyro's tutorial). The other quadrants are the output $y$. In the figure, blue marks pixels that
are *not* part of that side.
"""),
    code('''
fig = plots.plot_quadrant_examples(mnist["test"][0][:8])
'''),
    md(r"""
### The −1 sentinel

`mask_quadrants` returns two images of the same shape, the input and the target, and sets every
pixel that does not belong to a side to **−1**. Real pixels lie in $[0, 1]$, so −1 can never be
mistaken for ink, and `x == -1` marks exactly the pixels to predict. Keeping full-size images
(instead of cutting out quadrants) means one network shape serves all three settings.
"""),
    code('''
image = mnist["test"][0][0]
for q in QUADRANTS:
    x, y = data.mask_quadrants(image, q)
    given = (x != data.MASK_VALUE).float().mean().item()
    print(f"{q} input quadrant(s): {given:.0%} of the pixels given, {1 - given:.0%} to predict")
'''),
    md(r"""
## One input, several answers

Why is this a hard problem for an ordinary network? Because the input does not determine the
output. Below, the library searches the test set for 3s and 5s whose *inputs* (the bottom-left
quadrant) are nearly identical: the rows show each pair's inputs and their true digits. Any model
that outputs a single image must give (almost) the same answer for both inputs — and so be wrong
for at least one of them.
"""),
    code('''
one_quadrant = data.load_splits(1, profile="full", mnist=mnist)
pairs = data.closest_inputs_across_labels(one_quadrant.test, 3, 5, count=6)
fig = plots.plot_ambiguous_pairs(one_quadrant.test, pairs, labels=("3", "5"))
'''),
    md(r"""
## Training, validation and test splits

The official 10,000 test images are used **only** for the final evaluation in chapter 5. Model
selection — early stopping — needs data of its own, so `load_splits` holds out a fixed, seeded
set of 10,000 of the 60,000 training images as a validation split. (Pyro's tutorial stops early
on the test set and then reports on it, which flatters its numbers.)
"""),
    code('''
one_quadrant.sizes()
'''),
    md(r"""
The `fast` profile trains on the first images of each split only (the subsets are nested, so a
smoke run sees a prefix of the full run's data). This run uses:
"""),
    code('''
data.load_splits(1, profile=PROFILE, mnist=mnist).sizes()
''', tags=IGNORE),
    md(r"""
## A check: inputs and targets partition every image

Every pixel of every image must be on exactly one side, and putting the two sides back together
must give the original image. The check runs on all 70,000 images and all three settings.
"""),
    code('''
for q in QUADRANTS:
    splits = data.load_splits(q, profile="full", mnist=mnist)
    for part in (splits.train, splits.val, splits.test):
        given, wanted = part.inputs != data.MASK_VALUE, part.targets != data.MASK_VALUE
        assert torch.equal(given, ~wanted)
        assert torch.equal(torch.where(given, part.inputs, part.targets), part.images)
    print(f"{q} input quadrant(s): inputs and targets partition all {sum(splits.sizes().values()):,} images")
'''),
    md(r"""
Next, {doc}`02_baseline` trains a network that predicts *one* completion per input, and shows
what goes wrong.
"""),
])

# ----------------------------------------------------------------------------------------------
write("02_baseline", [md(r"""
# 2. The baseline: one prediction per input

The simplest model maps $x$ to one guess $\hat y$ of the missing pixels. Sohn et al. call it the
baseline CNN; like Pyro's tutorial we use a multilayer perceptron: 784 inputs (the image with −1
on the missing pixels), two hidden layers of 500 ReLU units, 784 outputs, one per pixel.
""")], [
    settings_cell("from myst_nb import glue\n\nfrom cvae_lib import data, evaluate, models, plots, train"),
    code('''
baseline = models.BaselineNet()
print(baseline)
print(f"{sum(p.numel() for p in baseline.parameters()):,} parameters")
'''),
    md(r"""
## The loss: masked Bernoulli cross-entropy

Each output pixel $i$ gets a probability $\hat y_i = \sigma(\text{logit}_i)$ and the loss is the
cross-entropy over the **output** pixels only — the given pixels are the input, not something to
predict:

$$
-\log p(y \mid x) = -\sum_{i \in \text{output}} \big[ y_i \log \hat y_i + (1 - y_i) \log (1 - \hat y_i) \big].
$$

The same function scores the baseline and, later, the CVAE's generation network:
"""),
    code('''
from cvae_lib.book import show_source

show_source(models.masked_bernoulli_log_likelihood)
'''),
    md(r"""
## Training, or loading

`train_or_load_baseline` trains with Adam (learning rate $10^{-3}$), evaluates the validation
split after every epoch, stops when it has not improved for a few epochs and restores the best
weights. The result is saved as a checkpoint under `checkpoints/<profile>/q<Q>/seed<N>/`; when
the checkpoint exists and was made with the same settings, it is loaded instead. A checkpoint
made with other settings is refused with an error, never used silently.
"""),
    code('''
mnist = data.load_mnist()
splits = {q: data.load_splits(q, profile=PROFILE, mnist=mnist) for q in QUADRANTS}
baselines = {q: train.train_or_load_baseline(splits[q], profile=PROFILE, seed=SEED, progress=False)
             for q in QUADRANTS}
for q, fitted in baselines.items():
    best = fitted.history[fitted.best_epoch - 1]
    print(f"{q} quadrant(s): {'loaded' if fitted.loaded else 'trained'}; {fitted.epochs_run} epochs, "
          f"best {fitted.best_epoch}: validation loss {best['val_loss']:.1f} nats per image")
''', tags=IGNORE),
    code('''
fig = plots.plot_loss_curves({f"{q} quadrant(s)": baselines[q].history for q in QUADRANTS},
                             title="Baseline: masked cross-entropy per image")
'''),
    md(r"""
Fewer given quadrants leave more pixels to predict, and less information to predict them from,
so the loss is largest with one quadrant.

## Blurry completions

The grid shows test inputs, the true digits and the baseline's prediction (the given quadrants
are drawn over every prediction, so each cell is a whole digit):
"""),
    code('''
test = splits[1].test
fig = plots.plot_prediction_grid(test.inputs[:10], test.targets[:10],
                                 baselines[1].module.predict(test.inputs[:10]),
                                 title="Baseline, 1 input quadrant")
'''),
    md(r"""
## Why one prediction is not enough

For each pixel, the prediction that minimises the expected cross-entropy is the *conditional
mean* $\mathbb{E}[y_i \mid x]$. When the input fits a 3 and a 5, the best single answer is the
average of a 3 and a 5: grey, blurry, and not a digit at all. Here are the ambiguous pairs of
chapter 1 again, with the baseline's answer for each input:
"""),
    code('''
full_test = data.load_splits(1, profile="full", mnist=mnist).test
pairs = data.closest_inputs_across_labels(full_test, 3, 5, count=5)
index = [i for pair in pairs for i in pair]
fig = plots.plot_prediction_grid(full_test.inputs[index], full_test.targets[index],
                                 baselines[1].module.predict(full_test.inputs[index]),
                                 title="Baseline on pairs of a 3 and a 5 with nearly the same input")
'''),
    md(r"""
The baseline draws nearly the same compromise for the 3 and the 5 of each pair. A model that can
answer "a 3 **or** a 5" needs to represent a *distribution* over completions — the subject of
{doc}`03_cvae`.

On the test images, the baseline's negative conditional log-likelihood is
{glue:text}`baseline_nll_1:.1f`, {glue:text}`baseline_nll_2:.1f` and {glue:text}`baseline_nll_3:.1f`
nats per image with 1, 2 and 3 input quadrants (this run's profile is printed at the top):
"""),
    code('''
for q in QUADRANTS:
    glue(f"baseline_nll_{q}", evaluate.baseline_nll(baselines[q].module, splits[q].test), display=False)
''', tags=IGNORE),
])

# ----------------------------------------------------------------------------------------------
write("03_cvae", [md(r"""
# 3. The conditional VAE

A CVAE is the conditional version of the variational autoencoder
{cite}`kingma2014autoencoding,rezende2014stochastic`: it models the many possible outputs with a
latent variable $z$. Given the input $x$, a
*conditional prior* network proposes a distribution over $z$; each draw of $z$ is decoded by a
*generation* network into one complete output. Different draws give different, sharp outputs:
a 3 for some $z$, a 5 for others.
""")], [
    settings_cell("import pyro\nimport pyro.distributions as dist\nimport torch\n\n"
                  "from cvae_lib import data, models, plots, train\nfrom cvae_lib.book import show_source"),
    md(r"""
## The model

$$
p_\theta(y \mid x) = \int p_\theta(y \mid x, z)\, p_\theta(z \mid x)\, dz,
\qquad p_\theta(z \mid x) = \mathcal N\big(\mu_\theta(x), \operatorname{diag}\sigma^2_\theta(x)\big).
$$

Three networks, as in Sohn et al. {cite}`sohn2015learning`:

* the **conditional prior** $p_\theta(z \mid x)$: what the input alone says about $z$;
* the **generation network** $p_\theta(y \mid x, z)$: one completion for each $z$;
* the **recognition network** $q_\phi(z \mid x, y)$: which $z$ explain the true completion. It
  is used in training (and in the evaluation of chapter 5), never to predict.

Following Pyro's tutorial, the prior network does not see $x$ alone: it sees $x$ with its missing
pixels filled by the **baseline's guess** $\hat y$ from chapter 2. The recognition network sees the
true full image. Both networks therefore read a complete 28 × 28 image and differ only in
*where the missing pixels come from*; the prior starts from a sensible average and only has to
learn how the truth may depart from it.
"""),
    code('''
fig = plots.plot_graphical_model()
'''),
    md(r"""
Shaded: observed at prediction time. Solid arrows: the generative model; dashed: the recognition
network. The three networks of the default model (latent size 200, hidden layers 500 and 500, as
in Pyro's tutorial):
"""),
    code('''
cvae = models.CVAE()
print(cvae)
for name, net in cvae.named_children():
    print(f"{name:16s} {sum(p.numel() for p in net.parameters()):>9,} parameters")
'''),
    md(r"""
One difference from Pyro's tutorial: there, the generation network reads $z$ only. Here it reads
$z$ **and** $x$, as the paper's $p_\theta(y \mid x, z)$ says, so it does not have to re-encode the
given pixels into $z$. `CVAE(generation_uses_x=False)` gives the tutorial's version.

## The objective: the evidence lower bound

The integral over $z$ has no closed form, so training maximises a lower bound on the conditional
log-likelihood, with the recognition network as the variational distribution:

$$
\log p_\theta(y \mid x) \;\ge\; \mathbb{E}_{q_\phi(z \mid x, y)}\big[\log p_\theta(y \mid x, z)\big]
\;-\; \mathrm{KL}\big(q_\phi(z \mid x, y) \,\big\|\, p_\theta(z \mid x)\big)
\;=\; \mathrm{ELBO}.
$$

The first term asks the generation network to reconstruct the truth from a $z$ that the
recognition network chose knowing the truth; the KL term pulls that choice towards what the prior
could have proposed from $x$ alone. At prediction time there is no $y$, so $z$ is drawn from the
prior — the KL term is what makes those draws useful.

## The model and guide in Pyro

In Pyro the generative story is a `model` and the variational distribution a `guide`. These are
the library's own methods, shown here rather than re-typed:
"""),
    code('''
show_source(models.CVAE.model)
'''),
    md(r"""
* `pyro.module` registers the networks' parameters with Pyro.
* `pyro.plate("data", ...)` says that the images of a batch are independent.
* `pyro.sample("z", ...)` draws the latent from the conditional prior. The `pyro.poutine.scale`
  around it multiplies that site's term by `kl_weight`, in the guide as well, which scales the
  KL term of the ELBO; it is 1 (the true ELBO) everywhere except in chapter 5's KL-annealing
  ablation.
* `pyro.sample("y", ..., obs=...)` scores the observed output pixels; when `targets` is `None`
  (prediction) the model instead returns pixel probabilities.

The distributions behind them:
"""),
    code('''
show_source(models.CVAE.prior)
'''),
    code('''
show_source(models.CVAE.likelihood)
'''),
    md(r"""
`.mask(output_mask(inputs))` limits the likelihood to the output pixels without cutting tensors
into ragged pieces (Pyro's tutorial gathers them with boolean indexing instead), and `.to_event(1)`
treats the 784 pixels of an image as one event. The guide uses the recognition network when the
target is known, and the prior network when it is not:
"""),
    code('''
show_source(models.CVAE.guide)
'''),
    md(r"""
Pyro can list every sample site with its shape. For a batch of 4 images:
"""),
    code('''
images = data.load_mnist()["test"][0][:4]
x, y = data.mask_quadrants(images, 2)
y_hat = torch.full((4, 784), 0.5)  # stands in for the baseline's guess
trace = pyro.poutine.trace(cvae.model).get_trace(x, y, y_hat)
print(trace.format_shapes())
'''),
    md(r"""
## Grey-scale targets and the Bernoulli

MNIST pixels are grey levels between 0 and 1, not black-or-white. A Bernoulli distribution is
defined for 0/1 values only, and with validation on (the default in current Pyro and PyTorch) it
refuses a grey level:
"""),
    code('''
try:
    dist.Bernoulli(probs=torch.tensor(0.3), validate_args=True).log_prob(torch.tensor(0.5))
except ValueError as error:
    print("ValueError:", str(error).split(" but found")[0])
''', tags=IGNORE),
    md(r"""
Pyro's tutorial feeds grey levels to a Bernoulli all the same; with the old Pyro it pins, the
check did not run. There are three honest ways out:

1. **binarise** the images (sample or threshold each pixel) — the task changes, and the numbers
   are no longer comparable with the literature;
2. use a distribution made for $[0, 1]$, such as the **continuous Bernoulli**
   {cite}`loaizaganem2019continuous` — normalised, but again not comparable;
3. keep the **Bernoulli cross-entropy** $y \log p + (1 - y) \log (1 - p)$ as the score, knowing that
   for grey $y$ it is not a normalised log-probability.

This book takes option 3, as the tutorial and most papers on this task do, so that its numbers can
be set beside theirs. The choice is made in exactly one place: the likelihood above builds its
Bernoulli with `validate_args=False`, with a comment saying why; validation stays on everywhere
else (the tests run the model under `pyro.enable_validation(True)`).

## One training loop for both models

Pyro's `TraceMeanField_ELBO` computes the KL term in closed form (both distributions are diagonal
Gaussians), which lowers the variance of the gradients compared with the sampled KL of
`Trace_ELBO`. Its `differentiable_loss` returns an ordinary PyTorch tensor, so the CVAE is trained
by the very loop, and the same Adam optimiser, that trained the baseline — only the loss differs.
Its `kl_weight` stays 1 for the published models; when KL annealing raises it from small values
to 1, it applies to training steps only, and validation scores the true negative ELBO:
"""),
    code('''
show_source(train.CVAEObjective)
'''),
    md(r"""
{doc}`04_training` trains the CVAE for the three quadrant settings.
"""),
])

# ----------------------------------------------------------------------------------------------
write("04_training", [md(r"""
# 4. Training

Both models are trained by one loop, `cvae_lib.train.fit`: shuffle the training split into
batches, take an Adam step on each batch's loss, evaluate the validation split, keep the best
weights, and stop when the validation loss has not improved for `patience` epochs.
""")], [
    settings_cell("from myst_nb import glue\n\nfrom cvae_lib import data, plots, train\n"
                  "from cvae_lib.book import show_source, training_animation_html"),
    code('''
show_source(train.fit)
'''),
    md(r"""
## Train or load, for 1, 2 and 3 quadrants

Each CVAE needs the baseline of its setting (its guess feeds the prior network). Both are loaded
from the checkpoints of earlier chapters when they exist, and trained otherwise. The baseline's
guesses for all images are computed once before the CVAE trains, since the baseline is frozen.
"""),
    code('''
mnist = data.load_mnist()
fitted = {}
for q in QUADRANTS:
    splits = data.load_splits(q, profile=PROFILE, mnist=mnist)
    baseline = train.train_or_load_baseline(splits, profile=PROFILE, seed=SEED, progress=False)
    cvae = train.train_or_load_cvae(splits, baseline, profile=PROFILE, seed=SEED, progress=False)
    fitted[q] = (baseline, cvae)
    per_epoch = sum(row["seconds"] for row in cvae.history) / cvae.epochs_run
    print(f"{q} quadrant(s): CVAE {'loaded' if cvae.loaded else 'trained'}; {cvae.epochs_run} epochs "
          f"(best {cvae.best_epoch}), {per_epoch:.1f} s per epoch")
''', tags=IGNORE),
    md(r"""
## Learning curves

Dashed lines are the training loss, solid lines the validation loss, dots the epoch whose
weights are kept. For the CVAE the loss is the negative ELBO per image; for the baseline, its
negative log-likelihood. Both are in nats per image, but they are not the same kind of number:
the CVAE's is an upper bound on its negative log-likelihood (chapter 5 estimates the
log-likelihood itself).
"""),
    code('''
histories = {}
for q, (baseline, cvae) in fitted.items():
    histories[f"baseline, {q}q"] = baseline.history
    histories[f"CVAE, {q}q"] = cvae.history
fig = plots.plot_loss_curves(histories, title="Training (dashed) and validation (solid) loss")
'''),
    md(r"""
## Watching the CVAE learn

After every epoch the training loop stores completions of eight fixed validation images, drawn
with the *same* latent noise each time, so that the frames differ only because the networks
changed. This is the training video of Pyro's tutorial, regenerated from the checkpoint
(1 input quadrant, the most ambiguous setting):
"""),
    code('''
baseline, cvae = fitted[1]
training_animation_html(cvae.snapshots, cvae.snapshot_inputs)
''', tags=IGNORE),
    md(r"""
The same frames as small multiples, for the printed page (rows: images; columns: epochs):
"""),
    code('''
fig = plots.plot_training_snapshots(cvae.snapshots, cvae.snapshot_inputs)
''', tags=IGNORE),  # one column per epoch: the figure's size depends on the run
    code('''
glue("cvae_epochs_1", fitted[1][1].epochs_run, display=False)
glue("cvae_best_epoch_1", fitted[1][1].best_epoch, display=False)
''', tags=IGNORE),
    md(r"""
With one input quadrant this run trained for {glue:text}`cvae_epochs_1` epochs and kept the
weights of epoch {glue:text}`cvae_best_epoch_1`. Read the small multiples from left to right to
see how the completions change as training goes on. {doc}`05_evaluation` measures how well each
model explains the test images.
"""),
])

# ----------------------------------------------------------------------------------------------
write("05_evaluation", [md(r"""
# 5. Evaluation

Two questions: do the CVAE's completions *look* like digits, and does the CVAE assign the true
completions a higher probability than the baseline does? The second is answered by the negative
conditional log-likelihood (CLL), $-\log p(y \mid x)$, in nats per test image; lower is better.
""")], [
    settings_cell("from cvae_lib import data, models, plots, reproduce\n"
                  "from cvae_lib.book import (quadrant_explorer, quality_markdown, results_for_book,\n"
                  "                           results_markdown, tutorial_comparison_markdown)\n"
                  "from cvae_lib.reproduce import estimator_label"),
    code('''
mnist = data.load_mnist()
trained = {q: reproduce.train_setting(q, profile=PROFILE, seed=SEED, mnist=mnist, progress=False)
           for q in QUADRANTS}
print({q: "loaded" if s.cvae.loaded and s.baseline.loaded else "trained" for q, s in trained.items()})
''', tags=IGNORE),
    md(r"""
## Completions

For ten test images: the input, the truth, the baseline's prediction, then five CVAE samples, each
drawn from the conditional prior $p(z \mid x)$ and decoded by the generation network.
"""),
    code('''
for q in QUADRANTS:
    setting = trained[q]
    test = setting.data.test
    inputs, targets = test.inputs[:10], test.targets[:10]
    samples = models.predict_completions(setting.cvae.module, setting.baseline.module, inputs, 5, seed=SEED)
    plots.plot_prediction_grid(inputs, targets, setting.baseline.module.predict(inputs), samples,
                               title=f"{q} input quadrant{'s' if q > 1 else ''}")
'''),
    md(r"""
Read each column from top to bottom and compare the CVAE samples with each other and with the
baseline's single answer. With one quadrant given, the input leaves the most room, so this is where
samples of the same input can differ most (and where a digit's identity can change between them);
with three quadrants there is little left to choose. How different the samples are also depends on
how long the CVAE was trained: see the profile printed at the top.

## The conditional log-likelihood

The baseline's CLL is exact: its output *is* $p(y \mid x)$. For the CVAE,
$p(y \mid x) = \int p(y \mid x, z)\, p(z \mid x)\, dz$ must be estimated. `cvae_lib.evaluate`
offers three estimators, and they measure different things:

| estimator | formula | what it is |
|---|---|---|
| negative ELBO | $\mathbb{E}_q[-\log p(y \mid x,z)] + \mathrm{KL}(q \,\|\, p)$ | an **upper bound** on $-\log p(y\mid x)$ |
| Monte Carlo from the prior | $-\log \frac1S \sum_s p(y \mid x, z_s)$, $z_s \sim p(z \mid x)$ | consistent, but most prior draws explain $y$ badly: biased upwards for finite $S$ |
| importance sampling | $-\log \frac1S \sum_s \frac{p(y \mid x, z_s)\, p(z_s \mid x)}{q(z_s \mid x, y)}$, $z_s \sim q(z \mid x, y)$ | uses the recognition network as proposal; its expectation approaches $-\log p(y\mid x)$ from above as $S$ grows {cite}`burda2016importance` |

The importance-sampled estimate is the one to compare with the baseline. The library's tests
check it against the exact value computed by numerical integration on a model with a
one-dimensional $z$.

The table below is computed by `cvae_lib.reproduce` and stored in `cll.json` (with `cll.md`
rendered from it) in this profile's results folder; this page displays the stored file. When the
file is missing or was made with other settings, the cell re-runs the evaluation.
"""),
    code('''
results = results_for_book(PROFILE, seeds=(SEED,), quadrants=QUADRANTS)
results_markdown(results)
''', tags=IGNORE),
    code('''
from IPython.display import Markdown

gap, unit = results["gap"], lambda q, key: results["gap"][str(q)][key]["mean"]
ordered = sorted(QUADRANTS, key=lambda q: -unit(q, "nats_per_image")) == sorted(QUADRANTS)
verdict = ("as the paper reports, the advantage per image is largest when the least is given, where the output is most "
           "ambiguous" if ordered else
           "unlike the paper, the advantage per image here does not shrink steadily as more quadrants are given")
Markdown(f"In this run (profile `{results['profile']}`), the CVAE explains the test completions better than "
         f"the baseline by {unit(1, 'nats_per_image'):.1f}, {unit(2, 'nats_per_image'):.1f} and "
         f"{unit(3, 'nats_per_image'):.1f} nats per image with 1, 2 and 3 input quadrants "
         f"({estimator_label(gap['1']['estimator'])}), or {unit(1, 'nats_per_output_pixel'):.3f}, "
         f"{unit(2, 'nats_per_output_pixel'):.3f} and {unit(3, 'nats_per_output_pixel'):.3f} nats per output "
         f"pixel: {verdict}.")
''', tags=IGNORE + ["remove-input"]),
    md(r"""
## Would another training schedule help?

Each CVAE stopped when its validation loss had not improved for a few epochs, at one learning rate
and with the KL term at full weight from the first step. Two refinements are common. A *step
schedule*: when training stalls, lower the learning rate and go on. *KL annealing*
{cite}`bowman2016generating`: start with a small weight on the KL term, so that the recognition
and generation networks first learn to use $z$, and raise the weight to 1. `python -m cvae_lib
ablation` tries both, and both together, for one setting (by default 1 input quadrant, seed 0):
it continues the stored CVAE at a learning rate ten times lower with the same early stopping;
trains a CVAE from scratch with the KL weight rising linearly, 0.1, 0.2, …, 1, over the first 10
epochs (validation and early stopping always score the true negative ELBO, weight 1); and
continues that one at the lower rate too. All four are evaluated with the same estimators.
Its table, when it was run for this profile:
"""),
    code('''
import json

from IPython.display import Markdown, display

from cvae_lib.ablation import ablation_summary, render_ablation_markdown
from cvae_lib.settings import results_dir

ablation_file = results_dir(PROFILE) / "ablation.json"
if ablation_file.exists():
    ablation = json.loads(ablation_file.read_text())
    display(Markdown(render_ablation_markdown(ablation)), Markdown(ablation_summary(ablation)))
else:
    print(f"no ablation stored for the {PROFILE.name} profile; "
          f"run `python -m cvae_lib ablation --profile {PROFILE.name}`")
''', tags=IGNORE),
    md(r"""
## Do the completions show the right digit?

The CLL does not say whether a sample looks like a digit, nor which one. {doc}`08_quality`
measures that with a digit classifier; its numbers are stored with the CLL table, for the same
runs:
"""),
    code('''
quality_markdown(results)
''', tags=IGNORE),
    md(r"""
## Beside Pyro's tutorial

Pyro's CVAE tutorial publishes a table of the same kind. Its "CVAE (Monte Carlo)" row is the
average *negative ELBO* on the test set: an upper bound, comparable with our negative-ELBO row,
not with the importance-sampled estimate. Its baseline row is comparable with ours (same network
and loss), except that the tutorial stopped early on the test set.
"""),
    code('''
tutorial_comparison_markdown(results)
''', tags=IGNORE),
    md(r"""
## Explore the completions

Pick the number of given quadrants, a test image and the number of samples. The explorer needs a
running kernel (Jupyter or Colab); on the static page it is replaced by the figure below it.
"""),
    code('''
quadrant_explorer(trained)
''', tags=IGNORE),
    md(r"""
What the explorer shows for its first settings — four test images, one input quadrant, eight
samples each:
"""),
    code('''
setting = trained[1]
inputs, targets = setting.data.test.inputs[:4], setting.data.test.targets[:4]
samples = models.predict_completions(setting.cvae.module, setting.baseline.module, inputs, 8, seed=SEED)
fig = plots.plot_prediction_grid(inputs, targets, setting.baseline.module.predict(inputs), samples,
                                 images_as_rows=True)
'''),
])

# ----------------------------------------------------------------------------------------------
write("06_label_cvae", [md(r"""
# 6. A CVAE conditioned on the label

Sohn et al.'s CVAE conditions on *pixels*: part of the image is given and the rest is generated.
Many tutorials use the name "conditional VAE" for a different model, conditioned on a *class*:
tell the decoder which digit you want and it draws one. Both are latent-variable models of a
conditional distribution; this chapter builds the second one with the same library pieces (data
split, training loop, checkpoints) and asks what it learns.

In this chapter $x$ is a whole image and $c$ its digit label. The encoder $q(z \mid x)$ reads the
image, the decoder $p(x \mid z, c)$ receives the label, and the prior is a fixed
$\mathcal{N}(0, I)$ (the quadrant CVAE had a *network* for its prior). The loss per image is

$$
-\mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z, c)\big] + \beta\, \mathrm{KL}\big(q(z \mid x) \,\|\, \mathcal{N}(0, I)\big),
$$

the negative ELBO when $\beta = 1$; other values of $\beta$ give the $\beta$-VAE objective
{cite}`higgins2017beta`. As in the quadrant task, grey levels are used as Bernoulli targets.
""")], [
    settings_cell("import torch\nfrom IPython.display import Markdown\n\nfrom cvae_lib import data, plots\n"
                  "from cvae_lib.book import numbers_markdown, show_source\n"
                  "from cvae_lib.label_cvae import (LabelCVAE, SWEEP_BETAS, beta_sweep, evaluate_digit_model,\n"
                  "                                 train_or_load_label_cvae)\n"
                  "from cvae_lib.quality import accuracy, train_or_load_digit_classifier"),
    code('''
digits = data.load_digit_splits(profile=PROFILE)  # the same train / validation / test split as before
print({split: f"{size:,} images" for split, size in digits.sizes().items()})
''', tags=IGNORE),
    md(r"""
## Two ways to hand the decoder the label

With `"add"`, the one-hot label is projected to the latent size by a linear layer and a tanh, and
*added* to $z$; with `"concat"`, the one-hot label is appended to $z$ and the decoder's first layer
mixes the two. Both are common; the code is short enough to read in full:
"""),
    code('''
show_source(LabelCVAE.decode)
'''),
    code('''
label_models = {
    conditioning: train_or_load_label_cvae(digits, beta=1.0, conditioning=conditioning, profile=PROFILE,
                                           seed=SEED, progress=False)
    for conditioning in ("add", "concat")
}
for name, trained in label_models.items():
    print(f"{name}: {'loaded' if trained.loaded else 'trained'}, {trained.epochs_run} epochs (best {trained.best_epoch})")
''', tags=IGNORE),
    md(r"""
## Ask for each digit

Rows: the requested digit, 0 to 9. Columns: eight samples, each with its own $z \sim \mathcal{N}(0, I)$
(the same eight draws of $z$ in every row, so a column shows one $z$ with ten labels).
"""),
    code('''
for name, trained in label_models.items():
    samples = trained.module.generate(torch.arange(10), num_samples=8, seed=SEED)
    how = "added to z" if name == "add" else "concatenated to z"
    fig = plots.plot_image_rows(samples, [f"asked {d}" for d in range(10)], title=f"β = 1, label {how}")
''', tags=IGNORE),
    md(r"""
Two numbers summarise such a grid. **Fidelity**: the fraction of generated images that a digit
classifier reads as the requested digit (the classifier of {doc}`08_quality`, trained on real
MNIST digits). **Diversity**: the mean Euclidean distance between two samples of the same request.
Beside them, the two terms of the loss on the test images: the reconstruction error
$-\log p(x \mid z, c)$ and the KL term, in nats per image.
"""),
    code('''
classifier = train_or_load_digit_classifier(digits, profile=PROFILE, progress=False).module
print(f"digit classifier: {100 * accuracy(classifier, *digits.test):.2f}% test accuracy")
COLUMNS = {"reconstruction": "reconstruction (nats)", "kl": "KL (nats)", "diversity": "diversity",
           "fidelity": "fidelity"}
numbers_markdown({f"label {name}, β = 1": evaluate_digit_model(trained.module, *digits.test, seed=SEED,
                                                                classifier=classifier)
                  for name, trained in label_models.items()}, COLUMNS)
''', tags=IGNORE),
    md(r"""
## Why the decoder may ignore the label

The encoder $q(z \mid x)$ sees the whole image, so $z$ can carry everything about it, the digit's
identity included. Nothing in the loss then *forces* the decoder to use the label: if $z$ already
says "this is a 7", the label is redundant during training. At generation time, however, $z$ comes
from the prior and says nothing in particular, and the label is all the decoder has. Fidelity
well above chance (0.1) means the decoder did learn to use the label; near chance, it did not.

The usual remedy is to give the label to the encoder as well, $q(z \mid x, c)$. Then the KL term
makes it costly to copy the label into $z$, since the decoder receives it anyway, and $z$ is left
to describe what the label does not: the style.
"""),
    code('''
labelled = {conditioning: train_or_load_label_cvae(digits, beta=1.0, conditioning=conditioning,
                                                   encoder_sees_label=True, profile=PROFILE, seed=SEED,
                                                   progress=False)
            for conditioning in ("add", "concat")}
for name, trained in labelled.items():
    print(f"q(z | x, c), {name}: {'loaded' if trained.loaded else 'trained'}, {trained.epochs_run} epochs")
samples = labelled["concat"].module.generate(torch.arange(10), num_samples=8, seed=SEED)
fig = plots.plot_image_rows(samples, [f"asked {d}" for d in range(10)],
                            title="β = 1, encoder q(z | x, c), label concatenated to z")
''', tags=IGNORE),
    md(r"""
All four combinations of encoder and conditioning, with $\beta = 1$:
"""),
    code('''
combinations = {}
for encoder, models in (("q(z | x)", label_models), ("q(z | x, c)", labelled)):
    for name, trained in models.items():
        combinations[f"{encoder}, label {'added' if name == 'add' else 'concatenated'}"] = evaluate_digit_model(
            trained.module, *digits.test, seed=SEED, classifier=classifier)
numbers_markdown(combinations, COLUMNS)
''', tags=IGNORE),
    md(r"""
## The KL weight β: diversity against fidelity

A sample is drawn by decoding $z \sim \mathcal{N}(0, I)$, and the KL term is what makes the
encoder's codes look like draws from that prior. With a small $\beta$ the encoder may place its
codes wherever they help reconstruction; a draw from the prior then lands where the decoder was
rarely trained. A large $\beta$ pulls the codes towards the prior and makes every bit of
information in $z$ costly, so that the decoder leans on the label and samples of one digit may
look alike. The sweep trains one model per $\beta$ for three of the designs above and measures
each on the test set:
"""),
    code('''
designs = {"q(z | x), added": ("add", False), "q(z | x, c), added": ("add", True),
           "q(z | x, c), concatenated": ("concat", True)}
sweeps = {name: beta_sweep(digits, SWEEP_BETAS, classifier=classifier, conditioning=conditioning,
                           encoder_sees_label=sees_label, profile=PROFILE, seed=SEED)
          for name, (conditioning, sees_label) in designs.items()}
numbers_markdown({f"{name}, β = {p.beta:g}": p.numbers for name, points in sweeps.items() for p in points},
                 COLUMNS)
''', tags=IGNORE),
    code('''
fig = plots.plot_beta_sweep(sweeps)
''', tags=IGNORE),
    md(r"""
Four samples each of the digits 2, 4 and 7, one row per $\beta$, for the encoder $q(z \mid x, c)$
and the label concatenated to $z$:
"""),
    code('''
points = sweeps["q(z | x, c), concatenated"]
fig = plots.plot_beta_samples({p.beta: p.trained.module.generate(torch.arange(10), 4, seed=SEED) for p in points})
''', tags=IGNORE),
    code('''
def describe(name):
    low, high = sweeps[name][0], sweeps[name][-1]
    best = max(sweeps[name], key=lambda p: p.numbers["fidelity"])
    change = lambda key: f"{low.numbers[key]:.2f} → {high.numbers[key]:.2f}"
    return (f"with {name}, from β = {low.beta:g} to β = {high.beta:g} the KL term goes {change('kl')} nats, the "
            f"reconstruction error {change('reconstruction')} nats, diversity {change('diversity')} and fidelity "
            f"{change('fidelity')} (best: {100 * best.numbers['fidelity']:.0f}% at β = {best.beta:g})")

Markdown("In this run, " + "; ".join(describe(name) for name in sweeps) + ".")
''', tags=IGNORE + ["remove-input"]),
    md(r"""
What the stored run (profile `full`, ten epochs per model) shows, and why:

* **Only one design follows the label well.** With the encoder $q(z \mid x, c)$ and the label
  concatenated to $z$, about three samples in four at $\beta = 1$ are read as the digit that was
  asked for. With an encoder that does not see the label, or with the label added to $z$ through
  a tanh projection, the decoder mostly ignores the label (chance is 0.1): an encoder without the
  label has every reason to put the identity into $z$, and a projection of at most 1 per dimension
  added to $z$ is a weak signal beside $z$ itself.
* **Fidelity rises with $\beta$ for every design.** With $\beta \le 0.01$ the KL term is hundreds
  of nats: the codes the decoder was trained on lie far from the prior, so draws from the prior
  decode to faint, shapeless strokes that no classifier reads as the requested digit.
* **A small $\beta$ does not buy diversity here.** The faint strokes of small $\beta$ are close to
  each other in pixel distance because they are faint, not because they are alike digits; the
  diversity score rises with $\beta$ together with fidelity. So this sweep does not show the
  trade-off often described, where samples of one digit become uniform at $\beta = 1$: at
  $\beta = 1$ the samples of one digit above still differ in slant, width and thickness.
* **What $\beta$ does trade** is reconstruction against matching the prior: the reconstruction
  error grows by about 18 nats as the KL term falls from about 370 to under 20 nats. A model used
  to reconstruct wants a small $\beta$; a model used to *generate* from the prior wants $\beta$
  near 1.

Two limits of this experiment: every model trains for at most ten epochs
(`cvae_lib.train.DIGIT_MAX_EPOCHS`), and the diversity score is a pixel distance, which also grows
with the amount of ink.
"""),
])

# ----------------------------------------------------------------------------------------------
write("07_classifier_cvae", [md(r"""
# 7. A CVAE that reads the digit itself: Gumbel-softmax

The model of {doc}`06_label_cvae` must be *told* the label, also to reconstruct an image. A
variant lets the model find the label itself: a classifier reads the image $x$, and its
prediction, made one-hot by the **Gumbel-softmax** trick {cite}`jang2017categorical`, is
concatenated to $z$ for the decoder. The labels are still used during training, through an extra
cross-entropy term that teaches the classifier; the idea is close to the semi-supervised model M2
of Kingma et al. {cite}`kingma2014semi`. The loss per image is

$$
-\mathbb{E}_{q(z \mid x)}\big[\log p(x \mid z, \hat c)\big] + \mathrm{KL}\big(q(z \mid x) \,\|\, \mathcal{N}(0, I)\big)
+ w \cdot \mathrm{CE}\big(\mathrm{classifier}(x), c\big),
$$

with $\hat c$ the Gumbel-softmax sample of the classifier's prediction and $w = 10$. The encoder
has 128 hidden units and a 20-dimensional $z$.
""")], [
    settings_cell("import torch\nfrom IPython.display import Markdown\n\nfrom cvae_lib import data, plots\n"
                  "from cvae_lib.book import numbers_markdown, show_source\n"
                  "from cvae_lib.classifier_cvae import ClassifierCVAE, train_or_load_classifier_cvae\n"
                  "from cvae_lib.label_cvae import evaluate_digit_model, train_or_load_label_cvae\n"
                  "from cvae_lib.quality import train_or_load_digit_classifier"),
    code('''
digits = data.load_digit_splits(profile=PROFILE)
trained = train_or_load_classifier_cvae(digits, profile=PROFILE, seed=SEED, progress=False)
model = trained.module
print(f"{'loaded' if trained.loaded else 'trained'}: {trained.epochs_run} epochs (best {trained.best_epoch})")
''', tags=IGNORE),
    md(r"""
## A discrete choice that gradients can pass through

Picking the most likely digit (an argmax) has no useful gradient. The Gumbel-softmax adds Gumbel
noise to the classifier's logits and takes a softmax at temperature $\tau$; with `hard=True` the
forward pass uses the one-hot argmax of that sample while the backward pass uses the gradient of
the soft version (a straight-through estimator). At test time the model simply takes the
classifier's most likely digit:
"""),
    code('''
show_source(ClassifierCVAE.digit_onehot)
'''),
    code('''
images, labels = digits.test
classifier_accuracy = (model.classify(images) == labels).float().mean().item()
Markdown(f"The model's own classifier reads **{100 * classifier_accuracy:.2f}%** of the test digits correctly.")
''', tags=IGNORE),
    md(r"""
## Style and digit, separated

Each row below uses **one** $z$ drawn from the prior, shared by the ten digits of the row; only the
one-hot part changes along the row. If the one-hot part carries the digit and $z$ the style, a row
shows one handwriting writing ten digits, and the rows differ in style.
"""),
    code('''
rows = model.generate_styles(num_rows=8, seed=SEED)
fig = plots.plot_image_rows(rows, [f"z {i + 1}" for i in range(8)], [str(d) for d in range(10)])
''', tags=IGNORE),
    md(r"""
## Reconstructions

Test digits (top) and their reconstructions (bottom): the encoder's mean $z$ and the classifier's
digit, decoded. No label is given to the model here.
"""),
    code('''
originals = images[:12]
fig = plots.plot_image_rows(torch.stack([originals, model.reconstruct(originals)]), ["test image", "reconstruction"])
''', tags=IGNORE),
    md(r"""
## Beside the label-conditioned model

The same measures as in {doc}`06_label_cvae`, for two label-conditioned models of that chapter
($\beta = 1$: the design of its first section, and the one that followed the label best) and this
one. Two differences are not hidden by the table: the label-conditioned
model is *given* the true label to reconstruct, while this one must classify first; and the
networks differ in size (400 hidden units there, 128 here, as each design is usually presented).
"""),
    code('''
classifier = train_or_load_digit_classifier(digits, profile=PROFILE, progress=False).module
compared = {}
for design, conditioning, sees_label in (("q(z | x), label added", "add", False),
                                        ("q(z | x, c), label concatenated", "concat", True)):
    label_model = train_or_load_label_cvae(digits, beta=1.0, conditioning=conditioning,
                                           encoder_sees_label=sees_label, profile=PROFILE, seed=SEED,
                                           progress=False).module
    compared[f"chapter 6: {design}"] = evaluate_digit_model(
        label_model, images, labels, seed=SEED, classifier=classifier)
compared["classifier + Gumbel-softmax (this chapter)"] = evaluate_digit_model(model, images, labels, seed=SEED,
                                                                             classifier=classifier)
numbers_markdown(compared, {"reconstruction": "reconstruction (nats)", "kl": "KL (nats)",
                            "diversity": "diversity", "fidelity": "fidelity"})
''', tags=IGNORE),
    md(r"""
In the stored run (profile `full`) the model's own classifier reads most test digits correctly,
yet its generated digits are read as the requested digit far less often. The style grid shows
why: along many rows the digit hardly changes. The encoder fills $z$ from the whole image, so $z$
carries much of the identity, as with the encoder $q(z \mid x)$ of {doc}`06_label_cvae`; the
cross-entropy term trains the classifier, but nothing forces the decoder to follow its one-hot
code. Its reconstruction error is higher than that of the label-conditioned models, partly because
it is smaller and partly because a wrong classification hands the decoder a wrong digit.

Where labels are known during training, the label-conditioned CVAE with the label given to the
encoder and concatenated to $z$ is the better generator of requested digits. The classifier CVAE's
advantage is that it needs no label after training: it classifies and reconstructs an image on its
own.
"""),
])

# ----------------------------------------------------------------------------------------------
write("08_quality", [md(r"""
# 8. Measuring the completions

The CLL of {doc}`05_evaluation` says how probable the true completion is under each model. It does
not say whether a sample *looks like a digit*, nor *which* digit. This chapter measures that with
a digit classifier trained on whole MNIST images, used as a fixed measuring instrument: it reads
each completed image (the given quadrants plus the model's prediction).
""")], [
    settings_cell("from IPython.display import Markdown\nfrom myst_nb import glue\n\n"
                  "from cvae_lib import data, plots, quality, reproduce\n"
                  "from cvae_lib.book import quality_markdown, results_for_book, show_source"),
    code('''
mnist = data.load_mnist()
digits = data.load_digit_splits(profile=PROFILE, mnist=mnist)
instrument = quality.train_or_load_digit_classifier(digits, profile=PROFILE, progress=False)
classifier = instrument.module
test_accuracy = quality.accuracy(classifier, *digits.test)
glue("classifier_accuracy", f"{100 * test_accuracy:.2f}", display=False)
print(f"digit classifier (784-512-512-10 MLP): {instrument.epochs_run} epochs, "
      f"{100 * test_accuracy:.2f}% test accuracy")
''', tags=IGNORE),
    md(r"""
The classifier reads {glue:text}`classifier_accuracy`% of the whole test digits correctly. For each
quadrant setting and each test image, the measures are:

* **accuracy of the most likely completion**: the baseline's prediction, and for the CVAE the
  decoding of the prior's mean $z$;
* **true digit among K samples** ($K = 10$): a CVAE that keeps several digits in play should
  often have the right one among its samples;
* **entropy of the predicted digit across the K samples**, in nats: 0 when every sample is read as
  the same digit, $\log 10 \approx 2.3$ at most;
* **diversity**: the mean pairwise Euclidean distance between the K samples' output pixels;
* **best-of-K squared error**: the smallest mean squared error (per output pixel) among the K
  samples, beside the baseline's error.
"""),
    code('''
show_source(quality.completion_quality)
'''),
    md(r"""
`python -m cvae_lib reproduce` computes these measures for every setting and seed, with the CLL,
and stores them in `cll.json` and `quality.md` of the results folder. The table shows the stored
numbers:
"""),
    code('''
results = results_for_book(PROFILE, seeds=(SEED,), quadrants=QUADRANTS)
quality_markdown(results)
''', tags=IGNORE),
    code('''
table = results["quality"]
mean = lambda q, key: table[str(q)][key]["mean"]
Markdown(
    f"With one input quadrant the baseline's completion is read as the right digit for "
    f"{100 * mean(1, 'baseline_accuracy'):.1f}% of the test images and the CVAE's most likely completion for "
    f"{100 * mean(1, 'cvae_mode_accuracy'):.1f}%; the true digit is among ten CVAE samples for "
    f"{100 * mean(1, 'cvae_top_k_accuracy'):.1f}%. With three input quadrants these are "
    f"{100 * mean(3, 'baseline_accuracy'):.1f}%, {100 * mean(3, 'cvae_mode_accuracy'):.1f}% and "
    f"{100 * mean(3, 'cvae_top_k_accuracy'):.1f}%. The entropy of the digit across samples falls from "
    f"{mean(1, 'cvae_label_entropy'):.2f} to {mean(3, 'cvae_label_entropy'):.2f} nats as more is given, and "
    f"the best of ten samples has a squared error of {mean(1, 'cvae_best_of_k_mse'):.3f} per output pixel "
    f"against the baseline's {mean(1, 'baseline_mse'):.3f} (one quadrant given).")
''', tags=IGNORE + ["remove-input"]),
    md(r"""
## Samples that change their digit

The point of a CVAE is that one input can have several completions. Below are test inputs with
one quadrant given whose ten samples the classifier reads as both a 3 and a 5, or both a 4 and a 9.
Above each sample is the classifier's reading, in red where it differs from the true digit.
"""),
    code('''
setting = reproduce.train_setting(1, profile=PROFILE, seed=SEED, mnist=mnist, progress=False)
pool = setting.data.test
_, _, samples = quality.cvae_completions(setting.cvae.module, setting.baseline.module, pool.inputs[:2000], 10, SEED)
sample_labels = classifier.predict(quality.complete(pool.inputs[:2000], samples))
found = quality.identity_switches(sample_labels, pairs=((3, 5), (4, 9)), count=3)
print(f"{len(found)} inputs shown")
if found:
    fig = plots.plot_identity_switches(pool, found, samples, sample_labels)
''', tags=IGNORE),
    md(r"""
How to read the numbers of the stored run (profile `full`):

* the baseline's single completion and the CVAE's most likely completion are read as the right
  digit about equally often: the decoding of the prior's mean is an averaged, safe guess, much
  like the baseline's;
* the CVAE's advantage appears once it may answer several times: with one quadrant given, the
  true digit is among ten samples far more often than it is the single best guess, and the best of
  ten samples is closer to the truth than the baseline's one answer;
* the entropy shows where the CVAE hedges: most with one quadrant, hardly at all with three;
* the figure shows that the hedging is sensible: samples switch between digits that share the
  given corner, such as 3 and 5 or 4 and 9.

The classifier was trained on whole, clean digits, so it also misreads some completions that a
person would read correctly; its accuracy on real digits bounds what these numbers can show.
"""),
])

print("wrote", ", ".join(sorted(p.name for p in BOOK.glob("*.ipynb"))))
