"""The aggregator's closed loop inside the VTN: market inputs, planning runs, dispatch, re-planning."""
