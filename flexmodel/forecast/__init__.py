"""Day-ahead forecasts of a home's base load and PV production, and their scores (pure: numpy only).

    days.py       a series (UTC slot start -> kW) as a matrix of days x slots of the day
    base_load.py  the base load: a profile by day type and slot, with a recent-level adjustment
    pv.py         PV: a per-site calibration of the pvlib model, and a day-ahead without weather
    scores.py     MAE, RMSE and skill against persistence, per lead-time band; the backtest

Each forecast is for a whole day D, issued at noon the day before (the day-ahead market's gate
closure), from the days completed by then (up to D-2). Too little history raises
InsufficientHistory naming what is missing: never a made-up profile in its place.
(docs/forecasts.md)
"""
