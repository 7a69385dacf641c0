"""Segments: RFM scores and named segments, clusters, interest topics."""
