"""Portfolio logic: pooling, dispatch planning, settlement, parallel execution. Imports flexmodel only."""
