"""What a sweep leaves behind: the trials table, a plot, and the best trial's config."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
import pandas as pd
from optuna.trial import TrialState

from econdl.sweep.parse import FitParser
from econdl.sweep.spec import SweepSpec


LOST = "its worker stopped without ending it (killed, or lost its heartbeat)"


def trials_table(study: optuna.Study, spec: SweepSpec) -> pd.DataFrame:
    """One row per trial: number, state, objective, parameters (as passed to ``econdl fit``),
    epochs and duration; surplus trials (see ``study.py``) are left out."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        if t.user_attrs.get("surplus"):
            continue
        row: dict = {"trial": t.number, "state": t.state.name, spec.metric: t.value}
        for p in spec.params:
            row[p.key] = p.decode(t.params[p.key]) if p.key in t.params else None
        row["epochs"] = t.user_attrs.get("epochs")
        # a failed trial that econdl did not mark was failed by the storage's heartbeat: its
        # worker was killed, and its end time is when a later worker noticed, not when it stopped
        lost = t.state == TrialState.FAIL and "error" not in t.user_attrs
        row["duration_s"] = t.duration.total_seconds() if t.duration is not None and not lost else None
        row["error"] = LOST if lost else t.user_attrs.get("error", "")
        rows.append(row)
    return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()


def importances(study: optuna.Study) -> dict[str, float]:
    """Parameter importances: fANOVA when scikit-learn is installed, PED-ANOVA otherwise,
    none when there are too few complete trials."""
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(complete) < 2:
        return {}
    evaluators: list[optuna.importance.BaseImportanceEvaluator] = []
    try:
        import sklearn  # noqa: F401  (fANOVA's random forest)

        evaluators.append(optuna.importance.FanovaImportanceEvaluator(seed=0))
    except ImportError:
        pass
    evaluators.append(optuna.importance.PedAnovaImportanceEvaluator())
    for evaluator in evaluators:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
        except Exception:  # e.g. a parameter that never varied: try the next evaluator
            continue
    return {}


def plot_sweep(table: pd.DataFrame, spec: SweepSpec, weights: dict[str, float], path: Path) -> Path:
    """Objective of every trial and the best so far (left), parameter importance (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for state, marker in (("COMPLETE", "o"), ("PRUNED", "x")):
        part = table[table["state"] == state] if len(table) else table
        if len(part):
            left.scatter(part.index, part[spec.metric], marker=marker, label=state.lower())
    done = table[table["state"] == "COMPLETE"][spec.metric] if len(table) else pd.Series(dtype=float)
    if len(done):
        best = done.cummin() if spec.direction == "minimize" else done.cummax()
        left.step(best.index, best.values, where="post", color="black", lw=1, label="best so far")
    left.xaxis.get_major_locator().set_params(integer=True)
    left.set_xlabel("trial")
    left.set_ylabel(spec.metric)
    left.set_title(f"Sweep {spec.study_name}: {spec.direction} {spec.metric}")
    if spec.metric.endswith("loss") and len(done) and (done > 0).all():
        left.set_yscale("log")
    left.legend(fontsize=8)
    if weights:
        names = list(weights)[::-1]
        right.barh([n.rsplit(".", 1)[-1] for n in names], [weights[n] for n in names])
        right.set_xlabel("importance")
    else:
        right.text(0.5, 0.5, "importance needs at least 2\ncomplete trials", ha="center", va="center")
        right.set_axis_off()
    right.set_title("parameter importance")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def best_config(study: optuna.Study, spec: SweepSpec, parser: FitParser, extra: list[str]) -> str | None:
    """The best complete trial's full resolved ``econdl fit`` config as YAML (None if no trial
    completed).  It tests after fit and runs in ``logs/sweeps/<study>/best/`` when fitted."""
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return None
    trial = study.best_trial
    values = {p.key: p.decode(trial.params[p.key]) for p in spec.params}
    config = parser.parse(spec.fit_args(values, extra))
    config.run_name = f"sweeps/{spec.study_name}/best"
    config.test_after_fit = True
    config.pop("config", None)  # the file itself is the config; keep no pointer to the base file
    header = (
        f"# Best trial {trial.number} of sweep {spec.study_name} ({spec.metric} = {trial.value:.6g}).\n"
        f"#   econdl fit --config <this file>\n"
    )
    return header + parser.dump(config)
