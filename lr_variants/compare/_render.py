"""A comparison as text (the tables ``lr-variants compare`` prints) and as JSON-ready dicts
(``--json``): rendering only, nothing computed here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lr_variants.compare._records import ArticleComparison, Comparison, Result

_OPTIONAL = (
    "optimum_distance",
    "loss_gap",
    "printed_losses",
    "max_abs_loss_diff",
    "time_ratio",
)


def result_dict(r: Result) -> dict[str, Any]:
    """A [`Result`][lr_variants.compare.Result]'s JSON fields; the optional ones only where they
    apply."""
    out = {
        "variant": r.variant,
        "impl": r.impl,
        "w": r.w,
        "b": r.b,
        "loss": r.loss,
        "accuracy": r.accuracy,
        "seconds": r.seconds,
        "steps": r.steps,
        "dtype": r.dtype,
        "device": r.device,
        "max_abs_param_diff": r.max_abs_param_diff,
        "reference": r.reference,
    }
    for key in _OPTIONAL:
        value = getattr(r, key)
        if value is not None:
            out[key] = value
    return out


def comparison_dict(c: Comparison) -> dict[str, Any]:
    """``{"settings", "results", "optimum", "skipped"}``; ``optimum`` is ``{"w", "b", "loss"}``
    or the reason there is none."""
    optimum: Any = c.optimum_error
    if c.optimum is not None:
        optimum = {"w": c.optimum.w.tolist(), "b": c.optimum.b, "loss": c.optimum.loss}
    return {
        "settings": c.settings,
        "results": [result_dict(r) for r in c.results],
        "optimum": optimum,
        "skipped": c.skipped,
        "failed": [f.to_dict() for f in c.failed],
    }


def sgd_text(settings: dict[str, Any]) -> str:
    """The optimizer's settings in words, for header lines."""
    s = settings
    return (
        f"SGD momentum {s['momentum']:g}, dampening {s['dampening']:g}, "
        f"nesterov {'on' if s['nesterov'] else 'off'}, weight decay {s['weight_decay']:g}"
    )


def _threads(settings: dict[str, Any]) -> str:
    threads = settings["threads"]
    return "no torch" if threads is None else f"torch threads {threads}"


def comparison_text(c: Comparison) -> str:
    """The settings on one line, then a table with one row per run, then why there is no
    optimum (if there is none) and what was skipped."""
    s = c.settings
    batch = "full" if s["batch_size"] is None else s["batch_size"]
    lines = [
        f"data {s['data']} ({s['n_samples']}x{s['n_features']}"
        f"{', standardized' if s['standardize'] else ''}), epochs {s['epochs']}, "
        f"batch {batch}, lr {s['lr']}, seed {s['seed']}, {s['dtype']} on {s['device']}; "
        + sgd_text(s)
        + f"; {s['order']} order; impl {'+'.join(s['impls'])}; "
        + _threads(s)
    ]
    header = f"{'variant':<12} {'impl':<8} {'final loss':>12} {'accuracy':>9} {'train s':>8}"
    diff = "max |param diff| vs " + c.reference
    width = max(28, len(diff))  # a long reference name widens its column, never misaligns it
    header += f" {'time/ref':>8} {diff:>{width}}"
    if c.optimum is not None:
        header += f" {'|theta - optimum|':>18} {'loss gap':>10}"
    lines.append(header)
    for r in c.results:
        ratio = "-" if r.time_ratio is None else f"{r.time_ratio:.2f}"
        line = (
            f"{r.variant:<12} {r.impl:<8} {r.loss:>12.6g} {r.accuracy:>9.4f} "
            f"{r.seconds:>8.3f} {ratio:>8} {r.max_abs_param_diff:>{width}.3g}"
        )
        if r.optimum_distance is not None and r.loss_gap is not None:
            line += f" {r.optimum_distance:>18.3g} {r.loss_gap:>10.3g}"
        lines.append(line)
    for f in c.failed:  # its row says why, in one line
        lines.append(f"{f.variant:<12} {f.impl:<8} failed in {f.phase}: {f.error}")
    if c.optimum is None:
        lines.append(f"optimum: {c.optimum_error}")
    lines += [f"skipped: {why}" for why in c.skipped]
    return "\n".join(lines)


def article_dict(a: ArticleComparison) -> dict[str, Any]:
    """``{"settings", "article", "results", "skipped"}``."""
    run = a.article
    script = {
        "epochs": run.epochs,
        "losses": run.losses.tolist(),
        "w": run.w.tolist(),
        "b": run.b,
        "accuracy": run.accuracy,
    }
    return {
        "settings": a.settings,
        "article": script,
        "results": [result_dict(r) for r in a.results],
        "skipped": a.skipped,
    }


def article_text(a: ArticleComparison) -> str:
    """What the script printed beside what each variant would print, epoch by epoch; the
    accuracies; the largest parameter and printed-loss differences from the script's."""
    s, run = a.settings, a.article
    lines = [
        "the article's script (DataLoader, nn.Module, nn.BCELoss, torch.optim.SGD; cpu) and "
        "every variant in article-exact mode",
        f"data two_blobs(500, seed=42) (1000x2), torch.manual_seed({s['seed']}), epochs "
        f"{s['epochs']}, batch {s['batch_size']}, lr {s['lr']}, float32, variants on "
        f"{s['device']}; impl {'+'.join(s['impls'])}; " + _threads(s),
    ]
    width = max([13, *(len(r.label) + 2 for r in a.results)])
    heads = ["article", *(r.label for r in a.results)]
    lines.append(f"{'':<18}" + "".join(f"{h:>{width}}" for h in heads))
    for k, epoch in enumerate(run.epochs):
        row = [run.losses[k], *((r.printed_losses or [])[k] for r in a.results)]
        head = f"Epoch [{epoch}/{s['epochs']}]"
        lines.append(f"{head:<18}" + "".join(f"{v:>{width}.4f}" for v in row))
    row = [run.accuracy, *(r.accuracy for r in a.results)]
    lines.append(f"{'Accuracy':<18}" + "".join(f"{v:>{width}.4f}" for v in row))
    for key, name in (
        ("max_abs_param_diff", "max |param diff|"),
        ("max_abs_loss_diff", "max |loss diff|"),
    ):
        lines.append(
            f"{name:<18}{'-':>{width}}"
            + "".join(f"{getattr(r, key):>{width}.3g}" for r in a.results)
        )
    lines.append(
        "max |param diff|: final w and b against the article's; max |loss diff|: the printed "
        "losses at full float32 precision"
    )
    lines += [f"skipped: {why}" for why in a.skipped]
    return "\n".join(lines)
