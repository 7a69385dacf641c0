"""Reports: figures (Plotly) and, later, HTML pages.

Figures are free functions that take the tables of the stages (and the fitted models' checking
tables) and return a ``plotly.graph_objects.Figure``; they read and write no files and change no
global plotting settings.
"""
