"""The methods note a report closes with, and its numbered references.

Per notebook (:data:`NOTES`): what was estimated, how, the conventions (CR2 standard errors with
Bell–McCaffrey degrees of freedom, Holm or Benjamini–Hochberg adjustment, bootstrap over firms,
errors-in-variables corrections, lme4's mixed-model standard errors …), the minimums and the
corrections used — with the actual parameter values of the run (``min_cell``, ``adjust``,
``conf``, ``min_pairs``, ``n_boot``, ``seed``, ``controls``, ``exclude`` …) and the minimums of the
modules that compute the numbers (read from them, never retyped). The methods of each notebook
are described in its markdown cells and in the docstrings of the modules it calls
(:mod:`helpers.role_gaps`, :mod:`helpers.drivers`, :mod:`helpers.congruence`,
:mod:`helpers.shadow`, :mod:`helpers.measurement`); this note states them briefly for a reviewer.

Citations are placeholders in the message ids (``{holm_1979}``), so translations keep them; they
are numbered in the order the note first cites them (``[1]``, ``[2]`` …) and only the references a
note cites are listed (:func:`note`), in APA style (:data:`REFERENCES`; titles are not
translated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers import i18n
from helpers.i18n import N_

#: APA references, by the placeholder that cites them.
REFERENCES: dict[str, str] = {
    "bates_2015": "Bates, D., Mächler, M., Bolker, B., & Walker, S. (2015). Fitting linear "
                  "mixed-effects models using lme4. Journal of Statistical Software, 67(1), 1–48. "
                  "https://doi.org/10.18637/jss.v067.i01",
    "bell_mccaffrey_2002": "Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard "
                           "errors for linear regression with multi-stage samples. Survey "
                           "Methodology, 28(2), 169–181.",
    "benjamini_hochberg_1995": "Benjamini, Y., & Hochberg, Y. (1995). Controlling the false "
                               "discovery rate: A practical and powerful approach to multiple "
                               "testing. Journal of the Royal Statistical Society: Series B, 57(1), "
                               "289–300. https://doi.org/10.1111/j.2517-6161.1995.tb02031.x",
    "bliese_2000": "Bliese, P. D. (2000). Within-group agreement, non-independence, and "
                   "reliability: Implications for data aggregation and analysis. In K. J. Klein & "
                   "S. W. J. Kozlowski (Eds.), Multilevel theory, research, and methods in "
                   "organizations (pp. 349–381). Jossey-Bass.",
    "cameron_miller_2015": "Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to "
                           "cluster-robust inference. Journal of Human Resources, 50(2), 317–372. "
                           "https://doi.org/10.3368/jhr.50.2.317",
    "carroll_2006": "Carroll, R. J., Ruppert, D., Stefanski, L. A., & Crainiceanu, C. M. (2006). "
                    "Measurement error in nonlinear models: A modern perspective (2nd ed.). "
                    "Chapman & Hall/CRC. https://doi.org/10.1201/9781420010138",
    "chen_2007": "Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of "
                 "measurement invariance. Structural Equation Modeling, 14(3), 464–504. "
                 "https://doi.org/10.1080/10705510701301834",
    "cochran_1977": "Cochran, W. G. (1977). Sampling techniques (3rd ed.). Wiley.",
    "cronbach_1951": "Cronbach, L. J. (1951). Coefficient alpha and the internal structure of "
                     "tests. Psychometrika, 16(3), 297–334. https://doi.org/10.1007/BF02310555",
    "edwards_parry_1993": "Edwards, J. R., & Parry, M. E. (1993). On the use of polynomial "
                          "regression equations as an alternative to difference scores in "
                          "organizational research. Academy of Management Journal, 36(6), "
                          "1577–1613. https://doi.org/10.5465/256822",
    "efron_tibshirani_1993": "Efron, B., & Tibshirani, R. J. (1993). An introduction to the "
                             "bootstrap. Chapman & Hall.",
    "feldt_1965": "Feldt, L. S. (1965). The approximate sampling distribution of Kuder–Richardson "
                  "reliability coefficient twenty. Psychometrika, 30(3), 357–370. "
                  "https://doi.org/10.1007/BF02289499",
    "fornell_larcker_1981": "Fornell, C., & Larcker, D. F. (1981). Evaluating structural equation "
                            "models with unobservable variables and measurement error. Journal of "
                            "Marketing Research, 18(1), 39–50. "
                            "https://doi.org/10.1177/002224378101800104",
    "fuller_1987": "Fuller, W. A. (1987). Measurement error models. Wiley. "
                   "https://doi.org/10.1002/9780470316665",
    "henseler_2015": "Henseler, J., Ringle, C. M., & Sarstedt, M. (2015). A new criterion for "
                     "assessing discriminant validity in variance-based structural equation "
                     "modeling. Journal of the Academy of Marketing Science, 43(1), 115–135. "
                     "https://doi.org/10.1007/s11747-014-0403-8",
    "holm_1979": "Holm, S. (1979). A simple sequentially rejective multiple test procedure. "
                 "Scandinavian Journal of Statistics, 6(2), 65–70.",
    "hu_bentler_1999": "Hu, L., & Bentler, P. M. (1999). Cutoff criteria for fit indexes in "
                       "covariance structure analysis: Conventional criteria versus new "
                       "alternatives. Structural Equation Modeling, 6(1), 1–55. "
                       "https://doi.org/10.1080/10705519909540118",
    "hui_walter_1980": "Hui, S. L., & Walter, S. D. (1980). Estimating the error rates of "
                       "diagnostic tests. Biometrics, 36(1), 167–171. "
                       "https://doi.org/10.2307/2530508",
    "james_1984": "James, L. R., Demaree, R. G., & Wolf, G. (1984). Estimating within-group "
                  "interrater reliability with and without response bias. Journal of Applied "
                  "Psychology, 69(1), 85–98. https://doi.org/10.1037/0021-9010.69.1.85",
    "kenny_2006": "Kenny, D. A., Kashy, D. A., & Cook, W. L. (2006). Dyadic data analysis. "
                  "Guilford Press.",
    "kenny_ledermann_2010": "Kenny, D. A., & Ledermann, T. (2010). Detecting, measuring, and "
                            "testing dyadic patterns in the actor–partner interdependence model. "
                            "Journal of Family Psychology, 24(3), 359–366. "
                            "https://doi.org/10.1037/a0019651",
    "papke_wooldridge_1996": "Papke, L. E., & Wooldridge, J. M. (1996). Econometric methods for "
                             "fractional response variables with an application to 401(k) plan "
                             "participation rates. Journal of Applied Econometrics, 11(6), "
                             "619–632.",
    "podsakoff_2003": "Podsakoff, P. M., MacKenzie, S. B., Lee, J.-Y., & Podsakoff, N. P. (2003). "
                      "Common method biases in behavioral research: A critical review of the "
                      "literature and recommended remedies. Journal of Applied Psychology, 88(5), "
                      "879–903. https://doi.org/10.1037/0021-9010.88.5.879",
    "pustejovsky_tipton_2018": "Pustejovsky, J. E., & Tipton, E. (2018). Small-sample methods "
                               "for cluster-robust variance estimation and hypothesis testing in "
                               "fixed effects models. Journal of Business & Economic Statistics, "
                               "36(4), 672–683. https://doi.org/10.1080/07350015.2016.1247004",
    "shanock_2010": "Shanock, L. R., Baran, B. E., Gentry, W. A., Pattison, S. C., & Heggestad, "
                    "E. D. (2010). Polynomial regression with response surface analysis: A "
                    "powerful approach for examining moderation and overcoming limitations of "
                    "difference scores. Journal of Business and Psychology, 25(4), 543–554. "
                    "https://doi.org/10.1007/s10869-010-9183-4",
}

# --------------------------------------------------------------------------- the notes
PRIVACY = N_("No number describes fewer than {min_cell} respondents, firms or pairs (the minimum "
             "cell size): smaller groups are withheld or pooled into “Other”.")
EXCLUDED = N_("Respondents flagged by validation as {flags} are left out of every number.")
KEPT = N_("Respondents flagged by validation (speeders, straight-liners) are kept; the "
          "data-quality report shows whether leaving them out changes the headline.")

ADJUST_WORDS = {
    "holm": N_("Holm's step-down method {holm_1979}"),
    "fdr_bh": N_("the Benjamini–Hochberg false discovery rate {benjamini_hochberg_1995}"),
    "bonferroni": N_("the Bonferroni correction"),
    None: N_("no multiplicity correction"),
}
MISSING_WORDS = {"pairwise": N_("pairwise handling"), "listwise": N_("listwise deletion")}
CENTER_WORDS = {
    "pooled": N_("centred at the grand mean of both executives' scores"),
    "separate": N_("each centred at its own role's mean"),
    None: N_("on their raw 1–5 scale"),
}
FLAG_WORDS = {"speeder": N_("speeders"), "straight_lining": N_("straight-liners")}

NOTES: dict[str, tuple[str, ...]] = {
    "00_data_quality": (
        N_("The report counts what the data preparation kept and left out of the export, the "
           "responses by role and segment, the complete CMO–CIO pairs per wave and the missing "
           "answers per item among the respondents who were asked it; it estimates nothing. "
           "Categories with fewer than {min_cell} CMOs, CIOs, firms, complete pairs or firm-years "
           "are pooled into “Other”, the same groups the segment reports are published for."),
        N_("The sensitivity line compares the within-firm (paired) CMO − CIO difference on the "
           "disconnect index, with its 95 % interval, with and without the respondents "
           "validation flagged (speeders and straight-liners); a row that differs from a row "
           "already shown by fewer than {min_cell} respondents or pairs is blanked, because "
           "comparing the two would describe those few people."),
    ),
    "01_measurement": (
        N_("Confirmatory factor analysis of every construct measured by two or more five-point "
           "items asked of both roles (maximum likelihood; standardised loadings with "
           "delta-method standard errors). Fit is read against the usual cut-offs CFI ≥ .95, "
           "RMSEA ≤ .06 and SRMR ≤ .08 {hu_bentler_1999}. Composite reliability and average "
           "variance extracted come from the standardised solution; discriminant validity from "
           "the Fornell–Larcker criterion {fornell_larcker_1981} and the heterotrait–monotrait "
           "ratio (HTMT above .85 flags constructs that are hard to tell apart) "
           "{henseler_2015}."),
        N_("Cronbach's alpha {cronbach_1951} with Feldt's 95 % interval {feldt_1965} and omega "
           "from a one-factor model per construct, with {missing} of missing answers."),
        N_("Measurement invariance across roles and across waves: configural, metric, scalar and "
           "strict models, each step judged against the one before by Chen's criteria "
           "{chen_2007} (a step fails when ΔCFI ≤ −.010 together with ΔRMSEA ≥ .015 or ΔSRMR ≥ "
           ".030 for loadings and .010 for intercepts); failing constraints are freed one at a "
           "time while every construct keeps two invariant items (partial invariance). Means are "
           "compared only where at least partial scalar invariance holds."),
        N_("Common-method variance: an unmeasured latent method factor on which every item also "
           "loads {podsakoff_2003}; Harman's single-factor test is a side note only. Agreement "
           "within the pair: ICC(1) and ICC(2) from a one-way analysis of variance with pairs as "
           "groups {bliese_2000}, and rWG(J) against a uniform null distribution "
           "{james_1984}. Rows of the table of means and correlations and agreement results "
           "with fewer than {min_cell} scores or pairs are withheld."),
    ),
    "02_disconnect_profile": (
        N_("Each indicator's CMO − CIO gap is the coefficient of an ordinary least-squares "
           "regression of the 1–5 construct score on role over every respondent with a score "
           "(also firms where only one executive answered), with standard errors clustered by "
           "firm using the CR2 correction {bell_mccaffrey_2002} {pustejovsky_tipton_2018} and t "
           "intervals with Bell–McCaffrey degrees of freedom. Intervals are {conf} intervals; p "
           "values are adjusted across the indicators with {adjust}, and the verdict reads a gap "
           "only when the correspondingly adjusted interval excludes zero."),
        N_("The verdict says “not detectable” when the design had less than 80 % power to find "
           "a gap of {sesoi} scale points. With fewer than {confirmatory} firms the numbers are "
           "exploratory (no verdict); with fewer than {min_firms} firms they are not estimated. "
           "Construct means are compared only where CMOs and CIOs use the items alike (at least "
           "partial scalar invariance by Chen's criteria {chen_2007}); every item is also "
           "compared on its own as the share agreeing (top-2 box), by a linear probability model "
           "with standard errors clustered by firm, t(G − 1) with G firms, and Holm-adjusted p "
           "values {holm_1979}."),
        N_("Published benchmarks: an exact binomial test of the sample's share against the "
           "published share taken as a fixed value; the studies surveyed other populations in "
           "other years."),
    ),
    "03_drivers": (
        N_("The headlines come from a firm-level cross-rater errors-in-variables regression "
           "{fuller_1987} over the firms where both executives answered: every quantity is "
           "measured once by the CMO and once by the CIO, and what one executive reports always "
           "meets what the other reports, both ways, so that one respondent's response style "
           "cannot link his own answers {podsakoff_2003}. Yes/no reports are corrected for "
           "misreporting from the executives' agreement {hui_walter_1980} {carroll_2006}; "
           "rating-scale drivers are per standard deviation of the part both executives see; "
           "the disconnect index is in Likert points corrected for rounding and the ends of the "
           "scale. All drivers sit in one model with the controls ({controls}), so each "
           "association holds the others constant."),
        N_("Standard errors come from {n_boot} bootstrap resamples of firms (both waves of a firm "
           "together; seed {seed}) {cameron_miller_2015} {efron_tibshirani_1993}, with {conf} "
           "intervals. The verdict reads a sign only when the interval excludes zero and says "
           "“not detectable” when the power to find the smallest association of interest (0.10 "
           "points yes vs no, 0.05 points per SD) was below 80 %. With fewer than {confirmatory} "
           "firms the numbers are exploratory; with fewer than {min_firms} they are not "
           "estimated."),
        N_("The exploratory models regress each respondent's disconnect index on the drivers he "
           "reports himself: OLS with standard errors clustered by firm (t(G − 1)) and a mixed "
           "model with a random firm intercept (REML; fixed-effect standard errors as lme4 "
           "computes them {bates_2015}); the per-indicator models adjust their p values across "
           "all indicator × driver tests with {adjust}."),
    ),
    "04_dyadic_congruence": (
        N_("Response surface analysis of a polynomial regression {edwards_parry_1993} "
           "{shanock_2010}: Z = b0 + b1·X + b2·Y + b3·X² + b4·X·Y + b5·Y², with X the CMO's and "
           "Y the CIO's score, read along the line of agreement (a1, a2) and of disagreement "
           "(a3, a4). Scores are {center}."),
        N_("The headline surface is estimated on the executives' true scores: a structural "
           "errors-in-variables correction by regression calibration {carroll_2006}, with each "
           "role's error variance from its items; 95 % percentile intervals and p values come "
           "from {n_boot} bootstrap replicates over firms (seed {seed}) {efron_tibshirani_1993}. "
           "With fewer than {confirmatory} pairs the numbers are exploratory; with fewer than "
           "{min_pairs} pairs nothing is estimated. The surface on the observed scores (OLS, "
           "standard errors clustered by firm) is shown for comparison only."),
        N_("Actor–partner interdependence model {kenny_2006}: each executive's rating of the "
           "outcome on their own and their counterpart's view, in a two-intercept model for "
           "distinguishable dyads with correlated residuals; k = partner / actor with delta-method "
           "and bootstrap intervals {kenny_ledermann_2010}. These are associations in "
           "cross-sectional answers, not effects."),
    ),
    "05_spend_shadow_it": (
        N_("{rule} The share is spend-weighted: a ratio "
           "of sums over firm-years {cochran_1977}, leaving out firm-years with fewer than "
           "{min_lines} ledger lines; its interval uses the delta-method variance clustered by "
           "firm with the CR2 correction and Bell–McCaffrey degrees of freedom "
           "{bell_mccaffrey_2002}."),
        N_("The slope is the average marginal effect of a fractional logit "
           "{papke_wooldridge_1996} weighted by technology spend, with the controls ({controls}) "
           "and the wave, in percentage points per point of the disconnect on the 1–5 index "
           "scale. The firm's disconnect enters as its best prediction from the executives' "
           "answers (regression calibration, reliability from the CMO–CIO covariance "
           "{carroll_2006}) and is corrected for rounding and the ends of the scale; the interval "
           "comes from {reps} bootstrap resamples of firms (seed {seed}) "
           "{efron_tibshirani_1993}. With fewer than {confirmatory} firms the numbers are "
           "exploratory; with fewer than {min_firms} they are not estimated. It is an "
           "association, not an effect."),
    ),
}


@dataclass(frozen=True)
class Note:
    """A methods note in the reader's language: paragraphs (plain text citing ``[n]``) and the
    references they cite, numbered in order of first citation."""

    paragraphs: tuple[str, ...]
    references: tuple[tuple[int, str], ...]


class _Citing(dict):
    """Placeholder values for a note: a reference placeholder becomes ``[n]``, numbered in the
    order of first use (``str.format_map`` reads placeholders left to right); a callable value
    is called when it is read (so that a phrase's own citations are numbered where it stands)."""

    def __init__(self, values: Mapping[str, Any]):
        super().__init__(values)
        self.numbers: dict[str, int] = {}

    def __getitem__(self, key: str) -> Any:
        if key in REFERENCES and not super().__contains__(key):
            return f"[{self.numbers.setdefault(key, len(self.numbers) + 1)}]"
        value = super().__getitem__(key)
        return value() if callable(value) else value


def _constant(module: str, name: str, default: Any) -> Any:
    """A module's constant (its minimum, its smallest effect of interest), or ``default`` when the
    module cannot be imported."""
    import importlib

    try:
        return getattr(importlib.import_module(f"helpers.{module}"), name)
    except (ImportError, AttributeError):
        return default


def _minimums(stem: str) -> dict[str, Any]:
    """The minimums of the module that computes a notebook's headlines."""
    if stem.startswith("02"):
        return {"confirmatory": _constant("role_gaps", "CONFIRMATORY_CLUSTERS", 40),
                "min_firms": _constant("role_gaps", "MIN_CLUSTERS", 10),
                "sesoi": _constant("role_gaps", "SESOI", 0.2)}
    if stem.startswith("03"):
        return {"confirmatory": _constant("drivers", "CONFIRMATORY_FIRMS", 50),
                "min_firms": _constant("drivers", "MIN_FIRMS", 20)}
    if stem.startswith("04"):
        return {"confirmatory": _constant("congruence", "CONFIRMATORY_PAIRS", 100)}
    if stem.startswith("05"):
        return {"confirmatory": _constant("shadow", "CONFIRMATORY_FIRMS", 60),
                "min_firms": _constant("shadow", "MIN_FIRMS_SLOPE", 20),
                "reps": _constant("shadow", "BOOTSTRAP_REPS", 199)}
    return {}


def _list(value: Any, language: str, words: Mapping[Any, str] | None = None) -> str:
    """A list parameter as words (``size band, industry``)."""
    from helpers import labels

    items = value if isinstance(value, list | tuple) else [value]
    shown = [i18n.gettext(words[v], language) if words and v in words
             else labels.column(v, language) for v in items if v is not None]
    return ", ".join(shown) if shown else i18n.gettext(N_("none"), language)


def note(notebook: str | Path, parameters: Mapping[str, Any] | None = None,
         language: str | None = None) -> Note:
    """The methods note of ``notebook`` (a path or stem) for a run with ``parameters`` (the
    effective ones: the notebook's defaults overridden by the injected values), in ``language``.
    An unknown notebook gets only the privacy paragraph."""
    stem = Path(str(notebook)).stem
    language = i18n.normalise(language or i18n.current())
    params = dict(parameters or {})
    fmt = lambda x, d=2: i18n.number(x, d, language)  # noqa: E731

    def adjust() -> str:
        key = params.get("adjust")
        text = i18n.gettext(ADJUST_WORDS.get(key, ADJUST_WORDS[None]), language)
        return text.format_map(values)

    conf = params.get("conf", 0.95)
    values = _Citing({
        "min_cell": i18n.integer(params.get("min_cell", 5), language),
        "conf": i18n.percent(conf if isinstance(conf, int | float) else 0.95, 0, language,
                             scale=100),
        "adjust": adjust,
        "missing": i18n.gettext(MISSING_WORDS.get(params.get("missing"), MISSING_WORDS["pairwise"]),
                                language),
        "center": i18n.gettext(CENTER_WORDS.get(params.get("center"), CENTER_WORDS["pooled"]),
                               language),
        "controls": _list(params.get("controls") or [], language),
        "n_boot": i18n.integer(params.get("n_boot", 0), language),
        "seed": str(params.get("seed", "")),
        "min_pairs": i18n.integer(params.get("min_pairs", 20), language),
        "min_lines": i18n.integer(params.get("min_lines", 20), language),
    })
    for key, value in _minimums(stem).items():
        values[key] = fmt(value) if isinstance(value, float) else i18n.integer(value, language)
    if stem.startswith("05"):
        from helpers import spend_report  # the rule's own words: text and SQL cannot disagree

        if params.get("n_boot"):
            values["reps"] = i18n.integer(params["n_boot"], language)
        with i18n.using(language):
            values["rule"] = spend_report.rule_text()
    paragraphs = [i18n.gettext(text, language).format_map(values)
                  for text in NOTES.get(stem, ())]
    flags = [f for f in params.get("exclude") or [] if f]
    closing = [i18n.gettext(PRIVACY, language).format_map(values)]
    if flags:
        closing.append(i18n.gettext(EXCLUDED, language).format(
            flags=_list(flags, language, FLAG_WORDS)))
    elif not stem.startswith("00"):
        closing.append(i18n.gettext(KEPT, language))
    paragraphs.append(" ".join(closing))
    refs = tuple((n, REFERENCES[key]) for key, n in sorted(values.numbers.items(),
                                                            key=lambda kv: kv[1]))
    return Note(tuple(paragraphs), refs)


def cited(text: str) -> set[int]:
    """The reference numbers ``[n]`` a text cites."""
    import re

    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


__all__ = ["Note", "note", "REFERENCES", "NOTES", "cited"]
