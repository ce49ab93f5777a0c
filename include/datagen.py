"""Synthetic, realistic data for the example models, with the defects production data has.

``ride_demand``: hourly trips per zone (regression). ``rider_churn``: riders who stop riding
(classification). Each model gets a *feature source* (what Feast serves) and a *label source*
(entity keys, timestamps and labels). Defects can be injected on request: out-of-range values
(hour 77), wrong types (an int where a float is expected), nulls, stale timestamps and a drifted period.

Run ``python -m include.datagen OUT_DIR`` to write the parquet files the example specs expect, and those
of every model scaffolded with ``airflow-mlops new`` (its generator in ``include/generators``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ZONE_TYPES = ("airport", "downtown", "suburb")
PAYMENT_TYPES = ("card", "cash", "wallet")


@dataclass(frozen=True)
class Defects:
    """Which defects to inject and into what share of rows."""

    bad_hour_fraction: float = 0.0  # hour set to 77
    null_fraction: float = 0.0  # nulls in a not-null column
    int_temperature: bool = False  # temperature arrives as int64 instead of float
    drift: bool = False  # a hotter, busier, more airport-heavy period
    stale_days: int = 0  # shift every timestamp this many days into the past


def _end_time(end: datetime | None) -> pd.Timestamp:
    end = end or datetime.now(UTC)
    return pd.Timestamp(end).tz_convert("UTC").floor("h")


def ride_demand(
    zones: int = 20, days: int = 28, seed: int = 7, end: datetime | None = None, defects: Defects = Defects()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(features, labels)`` for hourly demand per zone over ``days`` up to ``end``."""
    rng = np.random.default_rng(seed)
    end_ts = _end_time(end) - timedelta(days=defects.stale_days)
    hours = pd.date_range(end=end_ts, periods=days * 24, freq="h", tz="UTC")
    zone_ids = np.arange(1, zones + 1)
    zone_type = np.array(ZONE_TYPES)[zone_ids % len(ZONE_TYPES)]
    if defects.drift:
        zone_type = np.where(rng.random(zones) < 0.6, "airport", zone_type)
    base = {"airport": 40.0, "downtown": 60.0, "suburb": 15.0}
    grid = pd.MultiIndex.from_product([zone_ids, hours], names=["zone_id", "event_timestamp"]).to_frame(index=False)
    grid["zone_type"] = zone_type[grid["zone_id"].to_numpy() - 1]
    hour = grid["event_timestamp"].dt.hour.to_numpy()
    dow = grid["event_timestamp"].dt.dayofweek.to_numpy()
    temp = 12 + 8 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 3, len(grid))
    if defects.drift:
        temp = temp + 15
    peak = 1 + 0.8 * np.exp(-((hour - 8) ** 2) / 6) + 0.9 * np.exp(-((hour - 18) ** 2) / 8)
    weekend = np.where(dow >= 5, 1.2, 1.0)
    level = grid["zone_type"].map(base).to_numpy() * peak * weekend * (1 + 0.01 * (temp - 12))
    if defects.drift:
        level = level * 1.6
    trips = np.maximum(rng.poisson(np.maximum(level, 0.1)).astype("float64"), 0)
    lag = np.roll(trips, 1)
    lag[grid["event_timestamp"].to_numpy() == hours[0].to_datetime64()] = np.nan
    lag = np.where(np.isnan(lag), level, lag)
    features = pd.DataFrame(
        {
            "zone_id": grid["zone_id"].astype("int64"),
            "event_timestamp": grid["event_timestamp"],
            "hour": hour.astype("int64"),
            "day_of_week": dow.astype("int64"),
            "temperature": temp.round(1).astype("float64"),
            "trips_lag_1h": lag.astype("float64"),
            "zone_type": grid["zone_type"].astype("string").astype(object),
        }
    )
    features["created"] = features["event_timestamp"]
    _inject(features, rng, defects, hour_col="hour", null_col="trips_lag_1h", float_col="temperature")
    labels = pd.DataFrame(
        {"zone_id": features["zone_id"], "event_timestamp": features["event_timestamp"], "trips": trips}
    )
    return features, labels


def rider_churn(
    riders: int = 2000,
    snapshots: int = 4,
    seed: int = 11,
    end: datetime | None = None,
    defects: Defects = Defects(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return ``(features, labels)`` for weekly rider snapshots up to ``end``."""
    rng = np.random.default_rng(seed)
    end_ts = _end_time(end).floor("D") - timedelta(days=defects.stale_days)
    stamps = pd.date_range(end=end_ts, periods=snapshots, freq="7D", tz="UTC")
    rows = len(stamps) * riders
    rider_id = np.tile(np.arange(1, riders + 1), len(stamps)).astype("int64")
    ts = np.repeat(stamps, riders)
    tenure = rng.integers(1, 2000, rows)
    trips = rng.poisson(np.where(tenure > 365, 12, 5), rows)
    if defects.drift:  # a churn wave: riders ride less, cancel more and pay cash more often
        trips = rng.poisson(2, rows)
    rating = np.clip(rng.normal(4.6, 0.3, rows), 1, 5).round(2)
    cancel = np.clip(rng.beta(3, 8, rows) if defects.drift else rng.beta(1.5, 12, rows), 0, 1).round(3)
    payment_mix = [0.4, 0.4, 0.2] if defects.drift else [0.7, 0.1, 0.2]
    payment = np.array(PAYMENT_TYPES)[rng.choice(3, rows, p=payment_mix)]
    logit = 1.2 - 0.25 * trips - 0.0008 * tenure + 6 * cancel - 0.8 * (rating - 4.6) + 0.6 * (payment == "cash")
    churned = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype("int64")
    features = pd.DataFrame(
        {
            "rider_id": rider_id,
            "event_timestamp": ts,
            "tenure_days": tenure.astype("int64"),
            "trips_last_30d": trips.astype("int64"),
            "avg_rating": rating.astype("float64"),
            "cancel_rate": cancel.astype("float64"),
            "payment_type": payment.astype(object),
        }
    )
    features["created"] = features["event_timestamp"]
    _inject(features, rng, defects, hour_col=None, null_col="cancel_rate", float_col="avg_rating")
    labels = pd.DataFrame({"rider_id": rider_id, "event_timestamp": ts, "churned": churned})
    return features, labels


def _inject(
    df: pd.DataFrame, rng: np.random.Generator, defects: Defects, *, hour_col: str | None, null_col: str, float_col: str
) -> None:
    n = len(df)
    if hour_col and defects.bad_hour_fraction:
        idx = rng.choice(n, max(1, int(n * defects.bad_hour_fraction)), replace=False)
        df.loc[idx, hour_col] = 77
    if defects.null_fraction:
        idx = rng.choice(n, max(1, int(n * defects.null_fraction)), replace=False)
        df.loc[idx, null_col] = np.nan
    if defects.int_temperature:
        df[float_col] = df[float_col].round().astype("int64")


GENERATORS = {"ride_demand": ride_demand, "rider_churn": rider_churn}
FEATURE_FILES = {"ride_demand": "zone_hourly.parquet", "rider_churn": "rider_activity.parquet"}


def write_example_data(
    out_dir: str | Path, end: datetime | None = None, defects: Defects = Defects(), **sizes: int
) -> dict[str, Path]:
    """Write the feature and label sources of both example models; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for model, make in GENERATORS.items():
        kwargs = {k: v for k, v in sizes.items() if k in make.__code__.co_varnames}
        features, labels = make(end=end, defects=defects, **kwargs)
        written[f"{model}_features"] = out / FEATURE_FILES[model]
        written[f"{model}_labels"] = out / f"{model}_labels.parquet"
        features.to_parquet(written[f"{model}_features"], index=False)
        labels.to_parquet(written[f"{model}_labels"], index=False)
    return written


def write_generated_data(out_dir: str | Path, end: datetime | None = None, drift: bool = False) -> dict[str, Path]:
    """Run every model generator of ``include/generators`` (models made with ``airflow-mlops new``)."""
    from include.generators import generator_names, load

    written: dict[str, Path] = {}
    for name in generator_names():
        written.update(load(name).generate(out_dir, end=end, drift=drift))
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", help="folder for the parquet files")
    parser.add_argument("--drift", action="store_true", help="generate a drifted period")
    parser.add_argument("--bad-hour-fraction", type=float, default=0.0)
    parser.add_argument("--null-fraction", type=float, default=0.0)
    parser.add_argument("--int-temperature", action="store_true")
    args = parser.parse_args(argv)
    defects = Defects(args.bad_hour_fraction, args.null_fraction, args.int_temperature, args.drift)
    written = write_example_data(args.out_dir, defects=defects)
    written.update(write_generated_data(args.out_dir, drift=args.drift))
    for name, path in written.items():
        print(f"{name}: {path}")


if __name__ == "__main__":
    main()
