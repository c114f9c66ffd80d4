"""Writes that span models: importing corpora, training and evaluating, drawing samples,
rendering. Views, commands and tasks call these; reads are in generation.selectors."""
