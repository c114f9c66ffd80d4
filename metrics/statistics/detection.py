"""Signal detection for the Turing test: can listeners tell human clips from machine ones?"""

from __future__ import annotations

from dataclasses import dataclass

from scipy import stats


@dataclass(frozen=True)
class Sensitivity:
    hit_rate: float  # P(judged human | human clip)
    false_alarm_rate: float  # P(judged human | machine clip)
    d_prime: float  # 0: cannot tell them apart; larger: machine clips are caught
    criterion: float  # c > 0: listeners lean towards "machine"
    corrected: bool  # the log-linear correction was applied


def sensitivity(
    hits: int,
    signal_trials: int,
    false_alarms: int,
    noise_trials: int,
    *,
    correction: str = "log-linear",
):
    """d' = z(H) - z(F) and c = -(z(H) + z(F)) / 2 (Macmillan & Creelman 2005, ch. 1-2).

    Rates of exactly 0 or 1 give infinite z-scores, so all four counts get the log-linear
    correction of Hautus (1995): (hits + 0.5) / (signal trials + 1), likewise for false
    alarms. It is applied always rather than only at the extremes so estimates stay
    comparable across systems. ``correction="none"`` gives the plain rates (as most papers
    print them), and None when a rate is 0 or 1, where d' is infinite. Returns None when
    either kind of clip was never heard.
    """
    if signal_trials == 0 or noise_trials == 0:
        return None
    if correction == "none":
        hit_rate, false_alarm_rate = hits / signal_trials, false_alarms / noise_trials
        if hit_rate in (0.0, 1.0) or false_alarm_rate in (0.0, 1.0):
            return None
    elif correction == "log-linear":
        hit_rate = (hits + 0.5) / (signal_trials + 1)
        false_alarm_rate = (false_alarms + 0.5) / (noise_trials + 1)
    else:
        raise ValueError("correction must be 'log-linear' or 'none'")
    z_hit, z_false = stats.norm.ppf(hit_rate), stats.norm.ppf(false_alarm_rate)
    return Sensitivity(
        hit_rate=hits / signal_trials,
        false_alarm_rate=false_alarms / noise_trials,
        d_prime=float(z_hit - z_false),
        criterion=float(-(z_hit + z_false) / 2),
        corrected=correction != "none",
    )
