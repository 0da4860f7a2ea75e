"""One setting of the paper's experiment: train or load both models, then evaluate every estimator.

The evaluation is stored beside the checkpoints (``evaluation.json``, ``evaluation_<model>.json``),
keyed by their SHA-256 and the estimator settings, so a second run, or a run with more seeds, does
not repeat it; so are chapter 9's quality measures (``quality.json``) and the validation scores the
α sweep chooses on (``validation_<model>.json``), all through one helper, :func:`_cached`.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time

from . import evaluate
from .checkpoints import TrainedModel, note_reused
from .data import QuadrantData, load_splits
from .results import CURVE_SAMPLES, QUALITY_KEYS, estimators
from .settings import RunConfig, RunProfile
from .recipe import RECIPE, Recipe
from .train import baseline_guesses
from .util import NonFiniteError, atomic_write_json, non_finite

EVALUATION_FORMAT = 2  # of the evaluation stored beside the checkpoints; bump when the estimators change
# 2: the likelihood as y·l − softplus(l) and denormal floats flushed (equal to 1e-4 nats)
EVALUATION_CACHE = "evaluation.json"


@dataclasses.dataclass
class TrainedSetting:
    data: QuadrantData
    baseline: TrainedModel
    cvae: TrainedModel
    seed: int


def train_setting(num_quadrants: int, config: RunConfig, mnist: dict, progress: bool = True,
                  recipe: Recipe = RECIPE) -> TrainedSetting:
    """Data, baseline and CVAE for one quadrant setting: each loaded if checkpointed, else trained."""
    data = load_splits(num_quadrants, config.profile, mnist)
    baseline = recipe.train_baseline(data, config, progress=progress)
    cvae = recipe.train_cvae(data, baseline, config, progress=progress)
    return TrainedSetting(data, baseline, cvae, config.seed)


def train_remedies(setting: TrainedSetting, config: RunConfig, progress: bool = True,
                   recipe: Recipe = RECIPE) -> dict[str, TrainedSetting]:
    """The paper's two remedies for its train/test gap, trained (or loaded) beside the setting's
    CVAE with the same baseline and recipe: ``{"gsnn": ..., "hybrid": ...}``."""
    return {kind: dataclasses.replace(setting, cvae=recipe.train_cvae(setting.data, setting.baseline, config,
                                                                       objective=kind, progress=progress))
            for kind in ("gsnn", "hybrid")}


def evaluate_setting(setting: TrainedSetting, config: RunConfig, prior_only: bool = False) -> dict:
    """Every estimator on the test split, nats per image, and the estimates against S.

    Importance sampling draws the largest S once; each smaller S uses a prefix of the same
    draws (so the S = 100 and S = 1000 numbers, and the curve, come from one pass).
    ``prior_only`` is for a model without a trained recognition network (the GSNN): only the
    Monte Carlo estimates from the prior, up to the largest S of importance sampling.
    Returns ``{"numbers": {...}, "curves": {"S": [...], "is": [...], "mc": [...]}}``.
    """
    cvae, baseline = setting.cvae.module.to(config.device), setting.baseline.module.to(config.device)
    try:
        return _evaluate(cvae, baseline, setting.data.test, setting.seed, config.profile, prior_only)
    finally:
        cvae.to("cpu")
        baseline.to("cpu")


def _evaluate(cvae, baseline, test, seed: int, profile: RunProfile, prior_only: bool = False) -> dict:
    y_hat = baseline_guesses(baseline, test)
    numbers = {"baseline_nll": evaluate.baseline_nll(baseline, test)}
    if prior_only:
        plan = {"cvae_mc": sorted(set(profile.mc_samples) | {max(profile.is_samples)})}
    else:
        numbers["cvae_neg_elbo"] = evaluate.cvae_neg_elbo(cvae, test, y_hat, profile.elbo_samples, seed)
        plan = {kind: [e.samples for e in estimators(profile) if e.kind == kind] for kind in ("cvae_mc", "cvae_is")}
    proposals = {"cvae_mc": "prior", "cvae_is": "posterior"}
    weights = {kind: evaluate.cvae_log_weights(cvae, test.inputs, test.targets, y_hat, max(samples),
                                               proposals[kind], seed)
               for kind, samples in plan.items()}
    for kind, samples in plan.items():
        for count in samples:
            numbers[f"{kind}_{count}"] = evaluate.nll_from_log_weights(weights[kind][:count]).mean().item()
    largest = max(w.shape[0] for w in weights.values())
    curves = {"S": [s for s in CURVE_SAMPLES if s <= largest]}
    for short, kind in (("is", "cvae_is"), ("mc", "cvae_mc")):
        curves[short] = [evaluate.nll_from_log_weights(weights[kind][:s]).mean().item()
                         if kind in weights and s <= weights[kind].shape[0] else None for s in curves["S"]]
    return {"numbers": numbers, "curves": curves}


def _checkpoints_sha256(paths) -> list[str] | None:
    """The SHA-256 of each checkpoint file, or None when one is not on disk (nothing to key a cache by)."""
    if any(path is None or not path.exists() for path in paths):
        return None
    return [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]


def _evaluation_key(setting: TrainedSetting, profile: RunProfile, prior_only: bool = False) -> dict | None:
    """What an evaluation depends on: the two checkpoints' bytes and the estimator settings."""
    digests = _checkpoints_sha256([setting.baseline.path, setting.cvae.path])
    if digests is None:
        return None
    return json.loads(json.dumps({  # as it reads back from the file (tuples become lists)
        "format": EVALUATION_FORMAT,
        "checkpoints_sha256": digests,
        "evaluation": {key: profile.as_dict()[key]
                       for key in ("test_size", "mc_samples", "is_samples", "elbo_samples")},
        "curve_samples": list(CURVE_SAMPLES),
        **({"prior_only": True} if prior_only else {}),
    }))


def _stored(cache, key: dict, field: str) -> dict | None:
    """What ``cache`` stores under ``field`` if it was made with ``key`` and is finite (marked
    ``loaded``), else None: missing, unreadable or stale, it is made again and overwritten."""
    if cache is None or not cache.exists():
        return None
    try:
        stored = json.loads(cache.read_text())
    except ValueError:
        return None
    if stored.get("key") != key or non_finite(stored.get(field)):
        return None
    note_reused(cache, stored[field].get("seconds", 0.0))
    return {**stored[field], "loaded": True}


def _cached(cache, key: dict | None, field: str, compute, what: str) -> dict:
    """``compute()`` (a dict of numbers), stored in ``cache`` under ``field`` beside ``key`` and
    reused while the key is unchanged: the one pattern of every cache beside the checkpoints.

    Adds ``seconds`` (the wall time of ``compute`` when it ran) and ``loaded`` (whether it was
    reused). ``cache`` None (a checkpoint not on disk) computes without storing. A non-finite
    number is never stored: it raises :class:`~cvae_lib.util.NonFiniteError` naming ``what``.
    """
    stored = _stored(cache, key, field)
    if stored is not None:
        return stored
    start = time.perf_counter()
    made = compute()
    made["seconds"] = time.perf_counter() - start
    bad = non_finite(made)
    if bad:
        raise NonFiniteError(f"{what} gave non-finite numbers ({', '.join(bad[:3])}); nothing was stored. "
                             "The checkpoints it read may be damaged: delete them to train again")
    if cache is not None:
        atomic_write_json({"key": key, field: made}, cache)
    return {**made, "loaded": False}


def evaluate_setting_cached(setting: TrainedSetting, config: RunConfig, prior_only: bool = False) -> dict:
    """:func:`evaluate_setting`, stored beside the checkpoints and reused while they are unchanged.

    The evaluation is deterministic given the checkpoints, so re-running ``reproduce`` for more
    seeds does not repeat the (slow) S = 1000 pass of the seeds already done. Adds ``seconds``
    (the wall time of the evaluation when it was computed) and ``loaded`` (whether it was reused).
    A non-finite number is never stored: it raises :class:`~cvae_lib.util.NonFiniteError`.
    """
    key = _evaluation_key(setting, config.profile, prior_only)
    cache = None
    if key is not None:  # evaluation.json for the CVAE of cvae.pt, evaluation_<name>.json for others
        stem = setting.cvae.path.stem
        cache = setting.cvae.path.parent / (EVALUATION_CACHE if stem == "cvae" else f"evaluation_{stem}.json")
    return _cached(cache, key, "evaluation", lambda: evaluate_setting(setting, config, prior_only),
                   f"the evaluation of {setting.cvae.path or 'the CVAE'}")


QUALITY_CACHE = "quality.json"  # beside the CVAE's checkpoint: its completions as the digit classifier reads them
QUALITY_FORMAT = 1  # bump when a quality measure is computed differently (the key also lists the measures)


def setting_quality_cached(setting: TrainedSetting, classifier: TrainedModel, samples: int) -> dict:
    """Chapter 9's quality of the setting's CVAE completions (:func:`cvae_lib.quality.setting_quality`
    on the test split), stored beside the checkpoint and reused while the baseline, the CVAE, the
    classifier and ``samples`` are unchanged, as the evaluation is: ``{"quality": {...}, "seconds",
    "loaded"}``. A non-finite measure is never stored."""
    from .quality import setting_quality

    digests = _checkpoints_sha256([setting.baseline.path, setting.cvae.path, classifier.path])
    cache = key = None
    if digests is not None:
        key = json.loads(json.dumps({
            "format": QUALITY_FORMAT, "measures": sorted(QUALITY_KEYS), "samples": samples, "seed": setting.seed,
            "test_size": len(setting.data.test), "checkpoints_sha256": digests}))
        cache = setting.cvae.path.parent / QUALITY_CACHE

    def measure() -> dict:
        return {"quality": setting_quality(classifier.module, setting.cvae.module, setting.baseline.module,
                                           setting.data.test, samples, seed=setting.seed)}
    return _cached(cache, key, "measured", measure, f"the quality measures of {setting.cvae.path or 'the CVAE'}")


VALIDATION_CACHE = "validation_{stem}.json"  # beside the checkpoint: the model's scores on the validation split


def validation_scores(setting: TrainedSetting, config: RunConfig, samples: int) -> dict:
    """Two scores of a CVAE on the validation split, nats per image: its negative CLL estimated by
    importance sampling with ``samples`` draws (what a choice between models is made on, never the
    test set), and one draw from the prior (the score of a single prediction, chapter 6).
    Stored beside the checkpoint and reused while the checkpoints and ``samples`` are unchanged."""
    digests = _checkpoints_sha256([setting.baseline.path, setting.cvae.path])
    cache = key = None
    if digests is not None:
        key = json.loads(json.dumps({"format": EVALUATION_FORMAT, "samples": samples,
                                     "val_size": config.profile.val_size, "checkpoints_sha256": digests}))
        cache = setting.cvae.path.parent / VALIDATION_CACHE.format(stem=setting.cvae.path.stem)

    def score() -> dict:
        cvae, baseline = setting.cvae.module.to(config.device), setting.baseline.module.to(config.device)
        try:
            val = setting.data.val
            y_hat = baseline_guesses(baseline, val)
            weights = {proposal: evaluate.cvae_log_weights(cvae, val.inputs, val.targets, y_hat, count, proposal,
                                                           setting.seed)
                       for proposal, count in (("posterior", samples), ("prior", 1))}
            return {f"is_{samples}": evaluate.nll_from_log_weights(weights["posterior"]).mean().item(),
                    "one_draw": evaluate.nll_from_log_weights(weights["prior"]).mean().item()}
        finally:
            cvae.to("cpu")
            baseline.to("cpu")
    return _cached(cache, key, "scores", score, f"the validation scores of {setting.cvae.path or 'the CVAE'}")
