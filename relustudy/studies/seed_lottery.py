"""The seed lottery: each seed's outcome across one-factor changes of the posted cell."""
from __future__ import annotations

import pandas as pd

from relustudy.analysis import cells as analysis
from relustudy.analysis import mechanisms
from relustudy.figures import cells as figures
from relustudy.core.outcomes import OUTCOMES
from relustudy.studies.common import POSTED, md_table, need, pct
from relustudy.studies.common import Context
from relustudy.studies.legacy import text_study


def section_lottery(ctx: Context) -> str:
    r = ctx.runs
    base = need(r, POSTED, "the posted ReLU cell")
    cells = {"as posted": POSTED}
    for label, change in [
        ("momentum", {"optimizer": "momentum"}),
        ("corrected", {"update": "corrected"}),
        ("he", {"init": "he"}),
        ("xavier", {"init": "xavier"}),
        ("identity out", {"output": "identity"}),
        ("leaky_relu", {"activation": "leaky_relu"}),
        ("lr 0.1", {"lr": 0.1}),
        ("momentum, lr 0.001", {"optimizer": "momentum", "lr": 0.001}),
        ("corrected+he+identity", {"update": "corrected", "init": "he", "output": "identity"}),
    ]:
        where = {**POSTED, **change}
        if not analysis.select(r, where).empty:
            cells[label] = where
    seeds = sorted(base["seed"].unique())
    m = analysis.seed_matrix(r, cells, seeds)
    # Rows sorted by their outcome pattern (posted cell first), so seeds that behave alike sit together.
    order = m.apply(lambda c: c.map({o: k for k, o in enumerate(OUTCOMES)})).sort_values(list(m.columns), kind="stable")
    fig = ctx.fig(
        figures.seed_lottery(
            m.loc[order.index],
            title=f"The seed lottery: all {len(seeds):,} seeds, sorted by outcome",
            ylabel=f"{len(seeds):,} seeds (rows sorted by their outcomes, left to right)",
        ),
        "seed_lottery.png",
        "seed lottery",
    )
    agree = mechanisms.seed_agreement(r, POSTED, {k: v for k, v in cells.items() if k != "as posted"})
    rows = [
        (d.label, f"{d.n:,}", pct(d.same_outcome), f"{d.kappa:.2f} [{d.kappa_low:.2f}, {d.kappa_high:.2f}]",
         f"{d.kappa_fail:.2f}")
        for d in agree.itertuples(index=False)
    ]
    tbl = md_table(pd.DataFrame(rows, columns=["change to the posted cell", "seeds", "same outcome",
                                                "Cohen's κ, five outcomes [95% CI]", "Cohen's κ, failed or not"]))
    top = agree.sort_values("kappa", ascending=False, kind="stable").iloc[0] if len(agree) else None
    top_txt = (
        f"The outcome carries over most with {top['label']} (κ = {top['kappa']:.2f}); κ near 0 would mean the seed's"
        " fate under the change is unrelated to its fate as posted." if top is not None else ""
    )
    return f"""## The seed lottery

Each row is one seed (the same underlying normal draws in every column); each column changes one factor of the
posted cell. Agreement with the posted cell over all shared seeds, raw and beyond chance (Cohen's κ):

{tbl}
{top_txt}

{fig}
"""


STUDY = text_study('seed-lottery', 'The seed lottery', section_lottery)
