"""Predictions on the warehouse: BTYD models (CLV, P(alive)), their inputs and scores."""
